"""Checkpoints: trainable weights, optimizer, scheduler, RNG states and the data position.

Layout: ``<output>/checkpoints/step-00000010/`` with ``weights.safetensors``,
``optimizer.pt``, ``scheduler.pt``, ``rng.pt`` and ``state.json``. A checkpoint is
written into a temporary directory and renamed into place, so a reader never
sees half of one; only the newest ``keep`` survive.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

PREFIX = "step-"


def checkpoint_root(output: Path) -> Path:
    """Where a run's checkpoints live."""
    return output / "checkpoints"


def list_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_root(output)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.name.startswith(PREFIX) and (path / "state.json").is_file():
            found.append((int(path.name.removeprefix(PREFIX)), path))
    return sorted(found)


def find(output: Path, which: str | int) -> Path | None:
    """The checkpoint to resume from: ``latest``, a step, or None for ``none`` / nothing saved."""
    if which == "none":
        return None
    checkpoints = list_checkpoints(output)
    if which == "latest":
        return checkpoints[-1][1] if checkpoints else None
    for step, path in checkpoints:
        if step == which:
            return path
    raise FileNotFoundError(f"no checkpoint for step {which} under {checkpoint_root(output)}")


def _trainable_state(model: Any) -> dict[str, Any]:
    seen: set[int] = set()
    state = {}
    for name, param in model.named_parameters():
        if param.requires_grad and param.data_ptr() not in seen:  # tied weights: store once
            seen.add(param.data_ptr())
            state[name] = param.detach().contiguous()
    return state


def _rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(
    output: Path, step: int, *, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], keep: int
) -> Path:
    """Write one checkpoint, then delete all but the newest ``keep``."""
    import torch
    from safetensors.torch import save_file

    root = checkpoint_root(output)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_trainable_state(model), str(tmp / "weights.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(_rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for _, old in list_checkpoints(output)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load(path: Path, *, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Restore everything saved at ``path``; returns the saved loop state."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(path / "weights.safetensors"))
    params = dict(model.named_parameters())
    missing = [name for name in weights if name not in params]
    if missing:
        raise ValueError(f"checkpoint {path} does not fit this model (e.g. {missing[0]})")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor.to(params[name].device))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    _restore_rng(torch.load(path / "rng.pt", weights_only=False))
    state: dict[str, Any] = json.loads((path / "state.json").read_text())
    return state

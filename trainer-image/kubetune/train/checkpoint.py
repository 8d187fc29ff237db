"""Checkpoints: trainable weights and optimizer state (torch.distributed.checkpoint), scheduler,
RNG states and the data position.

Layout: ``<output>/checkpoints/step-00000010/`` with ``dcp/`` (DCP: one ``__<rank>_0.distcp`` shard
per writing rank, ``.metadata`` written last), ``scheduler.pt``, ``rng-<rank>.pt`` and ``state.json``.
Every rank writes its shard into ``.tmp-step-...``; once all have, rank 0 writes ``state.json`` (the
completeness marker) and renames the directory into place, so a reader never sees half of one; only
the newest ``keep`` survive. DCP stores tensors by their global shape, so a checkpoint written by N
processes (FSDP shards or DDP replicas) loads into M processes, one included.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from kubetune.train.distributed.world import World

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


DCP_DIR = "dcp"
SCHEDULER_FILE = "scheduler.pt"
STATE_FILE = "state.json"


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


def _options(*, strict: bool = True) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # Frozen weights (a LoRA base) are the base model's, never checkpointed: only what training changes.
    return StateDictOptions(ignore_frozen_params=True, strict=strict)


def _states(model: Any, optimizer: Any) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_state, optim_state = get_state_dict(model, optimizer, options=_options())
    return {"model": model_state, "optim": optim_state}


def save(
    output: Path,
    step: int,
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
    world: World | None = None,
) -> Path:
    """Write one checkpoint (a collective: every rank calls it), then delete all but the newest ``keep``."""
    import torch
    from torch.distributed.checkpoint import state_dict_saver

    world = world or World()
    root = checkpoint_root(output)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}"
    if world.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    world.barrier()
    tmp.mkdir(parents=True, exist_ok=True)  # another node's view of a shared volume
    state_dict_saver.save(_states(model, optimizer), checkpoint_id=tmp / DCP_DIR)
    torch.save(_rng_state(), tmp / f"rng-{world.rank}.pt")
    if world.is_main:
        torch.save(scheduler.state_dict(), tmp / SCHEDULER_FILE)
    world.barrier()  # every shard is down before the marker
    if world.is_main:
        (tmp / STATE_FILE).write_text(json.dumps({**state, "world_size": world.world_size}, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for _, old in list_checkpoints(output)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    world.barrier()
    return final


def load(path: Path, *, model: Any, optimizer: Any, scheduler: Any, world: World | None = None) -> dict[str, Any]:
    """Restore everything saved at ``path`` (any world size); returns the saved loop state."""
    import torch
    from torch.distributed.checkpoint import state_dict_loader
    from torch.distributed.checkpoint.state_dict import set_state_dict

    world = world or World()
    if not (path / DCP_DIR).is_dir():
        raise ValueError(
            f"checkpoint {path} has no {DCP_DIR}/ (written by an older kubetune); resume with resume: none"
        )
    states = _states(model, optimizer)  # the shapes and shardings to load into
    try:
        state_dict_loader.load(states, checkpoint_id=path / DCP_DIR)
    except Exception as exc:  # DCP names the missing key; say which checkpoint did not fit
        raise ValueError(f"checkpoint {path} does not fit this model: {exc}") from exc
    set_state_dict(
        model,
        optimizer,
        model_state_dict=states["model"],
        optim_state_dict=states["optim"],
        options=_options(strict=False),
    )
    scheduler.load_state_dict(torch.load(path / SCHEDULER_FILE, weights_only=False))
    # Each rank continues its own random stream where one was saved for it (dropout); a rank new to
    # this world size starts from rank 0's.
    rng = path / f"rng-{world.rank}.pt"
    _restore_rng(torch.load(rng if rng.is_file() else path / "rng-0.pt", weights_only=False))
    saved: dict[str, Any] = json.loads((path / STATE_FILE).read_text())
    saved.pop("world_size", None)
    return saved

"""The reference model's answer log-probabilities, computed once and kept beside the checkpoints.

DPO compares the policy with a frozen reference. kubetune takes the reference to be the model as the
run starts and scores every pair with it once, before the first optimizer step:

- LoRA/QLoRA: the base with the adapter disabled (``disable_adapter``): the same weights, no copy;
- a chain that continues a parent's adapter: the parent's policy (base + that adapter, as loaded);
- full fine-tuning: the weights before any update; nothing is kept but two numbers per pair, so
  full DPO needs no second model in memory either.

The numbers are saved to ``<output>/dpo-reference.pt``; a resumed run reads them back instead of
scoring with weights that have moved on. Under autocast the scores are the ones a live reference
would give at step 0 (same kernels, same inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from kubetune.train.dpo.loss import sequence_logps

REFERENCE_FILE = "dpo-reference.pt"


def _adapter_off(model: Any, fresh_adapter: bool) -> Any:
    disable = getattr(model, "disable_adapter", None)
    return disable() if fresh_adapter and callable(disable) else nullcontext()


def score(
    model: Any,
    pairs: list[dict[str, list[int]]],
    collate: Callable[[list[dict[str, list[int]]]], dict[str, Any]],
    *,
    batch_size: int,
    device: Any,
    autocast: Callable[[], Any],
    fresh_adapter: bool,
) -> dict[str, Any]:
    """``chosen``/``rejected`` summed log-probs and ``chosen_tokens``/``rejected_tokens`` of every pair."""
    import torch

    was_training = model.training
    model.eval()
    parts: dict[str, list[Any]] = {"chosen": [], "rejected": [], "chosen_tokens": [], "rejected_tokens": []}
    with torch.no_grad(), _adapter_off(model, fresh_adapter), autocast():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            batch = {k: v.to(device) for k, v in collate(chunk).items()}
            logps, counts = sequence_logps(model, batch, 2 * len(chunk))
            n = len(chunk)
            parts["chosen"].append(logps[:n].float().cpu())
            parts["rejected"].append(logps[n:].float().cpu())
            parts["chosen_tokens"].append(counts[:n].float().cpu())
            parts["rejected_tokens"].append(counts[n:].float().cpu())
    model.train(was_training)
    empty = torch.zeros(0)
    return {k: torch.cat(v) if v else empty for k, v in parts.items()}


def load_or_score(
    path: Path, sizes: dict[str, int], compute: Callable[[], dict[str, dict[str, Any]]], *, resuming: bool
) -> Any:
    """On a resume, the saved scores (when they match the splits' sizes); else fresh ones, saved."""
    import torch

    if resuming and path.is_file():
        saved = torch.load(path, weights_only=True)
        if {name: int(split["chosen"].numel()) for name, split in saved.items()} == sizes:
            return saved
    scores = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    torch.save(scores, tmp)
    tmp.replace(path)
    return scores

"""Pieces shared by the torch runtimes: adapters (attaching, selecting), padding, probabilities."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


def attach_adapters(model: Any, adapters: dict[str, Path]) -> Any:
    """Wrap ``model`` in a PeftModel holding every adapter under its name."""
    if not adapters:
        return model
    from peft import PeftModel

    names = list(adapters)
    peft_model = PeftModel.from_pretrained(model, str(adapters[names[0]]), adapter_name=names[0])
    for name in names[1:]:
        peft_model.load_adapter(str(adapters[name]), adapter_name=name)
    peft_model.set_adapter(names[0])
    return peft_model


@contextmanager
def adapter_scope(model: Any, adapter: str | None) -> Iterator[None]:
    """Run with ``adapter`` active, or with every adapter off when it is None.

    Only the model's single executor thread calls this, so switching the active
    adapter cannot race with another batch.
    """
    if not hasattr(model, "peft_config"):
        yield
        return
    if adapter is None:
        with model.disable_adapter():
            yield
        return
    model.set_adapter(adapter)
    yield


def pad(sequences: list[list[int]], pad_id: int, left: bool, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token lists into (input_ids, attention_mask)."""
    width = max(len(seq) for seq in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        start = width - len(seq) if left else 0
        ids[row, start : start + len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, start : start + len(seq)] = 1
    return ids.to(device), mask.to(device)


def token_log_probs(logits: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each chosen token and of the most likely token, per position."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    chosen = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return chosen, log_probs.max(dim=-1).values


def mean_score(chosen: torch.Tensor, best: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """(exp(mean log p of the chosen tokens), mean top-1 probability) over the masked positions.

    exp(mean log p) is the inverse perplexity: 1.0 when the model was certain of
    every token, towards 0 as the text surprises it; always in (0, 1].
    """
    count = mask.sum()
    if count == 0:
        return 1.0, 1.0
    score = torch.exp((chosen * mask).sum() / count)
    confidence = (torch.exp(best) * mask).sum() / count
    return float(score), float(confidence)


def mean_pooled(hidden: torch.Tensor, mask: torch.Tensor) -> list[list[float]]:
    """Embeddings: the last layer's token states averaged over real tokens, scaled to unit length
    (as OpenAI's are, so a dot product is a cosine similarity)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
    return torch.nn.functional.normalize(summed.float(), dim=-1).tolist()

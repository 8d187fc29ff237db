"""Causal-LM loss computed only at the positions that carry a label.

A causal LM's own forward projects every position onto the vocabulary and then
ignores the positions whose (shifted) label is ``-100``: in supervised
fine-tuning that is the whole prompt, and with a realistic vocabulary the
``lm_head`` and the cross-entropy over it are a large share of a small model's
work. ``SupervisedLoss`` runs the decoder body, keeps the hidden states of the
positions that predict a label, and applies the output head and the
cross-entropy to those alone. The value is the same as the model's own loss
(sum of token losses over ``num_items_in_batch``, logits upcast to float32),
and so are the gradients; ``tests/unit/train/test_lm_loss.py`` checks both.

It is a module so that accelerate can wrap it (DDP must see the forward that
runs). Architectures whose forward does more than ``lm_head(hidden)`` between
the body and the loss (logit soft-capping, logit scaling, router losses) keep
the model's own forward: ``supports_supervised_loss`` says which.
"""

from __future__ import annotations

from functools import cache
from typing import Any

IGNORE_INDEX = -100
# Model types whose causal-LM forward is exactly ``loss(lm_head(decoder(...)))``: checked against
# the transformers 5 modeling files. Gemma 2/3 (soft-capping), Granite and Cohere (logit scaling)
# and MoE models (router auxiliary loss) are left out on purpose.
PLAIN_HEAD_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "olmo2", "smollm3"})
# Above this many logits (selected positions x vocabulary) the head runs in chunks whose logits are
# recomputed in the backward pass, so that a long batch never holds all of them at once.
CHUNK_LOGITS = 1 << 26


def causal_lm_of(model: Any) -> Any:
    """The transformers ``*ForCausalLM`` inside a peft wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def supports_supervised_loss(model: Any) -> bool:
    """Whether the loss may skip the model's own forward (see PLAIN_HEAD_MODEL_TYPES)."""
    inner = causal_lm_of(model)
    config = getattr(inner, "config", None)
    if getattr(config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES:
        return False
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "output_router_logits", False):
        return False
    return callable(getattr(inner, "get_decoder", None)) and inner.get_output_embeddings() is not None


@cache
def _module_class() -> type:
    import torch
    from torch.nn import functional
    from torch.utils.checkpoint import checkpoint

    def head_loss(head: Any, hidden: Any, targets: Any) -> Any:
        logits = head(hidden).float()  # float32 cross-entropy, as transformers' ForCausalLMLoss does
        return functional.cross_entropy(logits, targets, reduction="sum")

    class SupervisedLoss(torch.nn.Module):
        """``forward(input_ids, labels, num_items_in_batch, **inputs)`` returns the mean token loss."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model  # registered: DDP and .parameters() see the real weights
            inner = causal_lm_of(model)
            # A tuple is not registered as submodules: the weights are reachable once, through model.
            self._parts = (inner.get_decoder(), inner.get_output_embeddings(), int(inner.config.vocab_size))

        def forward(self, input_ids: Any, labels: Any, num_items_in_batch: Any = None, **inputs: Any) -> Any:
            decoder, head, vocab = self._parts
            inputs["use_cache"] = False
            hidden = decoder(input_ids=input_ids, **inputs).last_hidden_state
            targets = labels[:, 1:]
            keep = targets != IGNORE_INDEX
            selected, wanted = hidden[:, :-1][keep], targets[keep]
            rows = max(1, CHUNK_LOGITS // vocab)
            if selected.shape[0] <= rows:
                total = head_loss(head, selected, wanted)
            else:
                total = sum(
                    checkpoint(head_loss, head, selected[i : i + rows], wanted[i : i + rows], use_reentrant=False)
                    for i in range(0, selected.shape[0], rows)
                )
            if num_items_in_batch is None:
                num_items_in_batch = keep.sum()
            return total / num_items_in_batch

    return SupervisedLoss


def supervised_loss(model: Any) -> Any:
    """Wrap a causal LM (plain or peft) in a module whose forward is its supervised-positions loss."""
    return _module_class()(model)

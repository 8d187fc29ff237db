"""DPO's loss (Rafailov et al. 2023, eq. 7) and the per-sequence log-probabilities it needs.

For a pair (x, y_w, y_l), with policy pi and reference pi_ref:

    h = [log pi(y_w|x) - log pi_ref(y_w|x)] - [log pi(y_l|x) - log pi_ref(y_l|x)]
    sigmoid: loss = -(1 - eps) * log sigmoid(beta * h) - eps * log sigmoid(-beta * h)   (eps: label smoothing)
    ipo:     loss = (h' - 1 / (2 * beta))^2, h' from length-normalised log-probs (Azar et al. 2023)

rewards: beta * (log pi(y) - log pi_ref(y)) for chosen and rejected; margin = chosen - rejected;
accuracy = share of pairs whose chosen reward is higher.

``sequence_logps`` projects onto the vocabulary only the positions that predict an answer token (the
prompt and padding never reach the output head), as ``kubetune.train.lm_loss`` does for supervised
loss; with many prompt tokens and a large vocabulary this is most of the saving over a full forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.train.lm_loss import CHUNK_LOGITS, IGNORE_INDEX, causal_lm_of, supports_supervised_loss


@dataclass
class DpoOutput:
    """Per-pair loss and rewards (tensors of shape [pairs])."""

    losses: Any
    chosen_rewards: Any
    rejected_rewards: Any


def dpo_loss(
    policy_chosen: Any,
    policy_rejected: Any,
    reference_chosen: Any,
    reference_rejected: Any,
    *,
    beta: float,
    label_smoothing: float = 0.0,
    loss_type: str = "sigmoid",
    chosen_tokens: Any = None,
    rejected_tokens: Any = None,
) -> DpoOutput:
    """The loss of each pair from summed answer log-probs; ``*_tokens`` (answer lengths) for ipo."""
    from torch.nn import functional

    chosen_ratio = policy_chosen - reference_chosen
    rejected_ratio = policy_rejected - reference_rejected
    if loss_type == "sigmoid":
        logits = chosen_ratio - rejected_ratio
        losses = (
            -functional.logsigmoid(beta * logits) * (1 - label_smoothing)
            - functional.logsigmoid(-beta * logits) * label_smoothing
        )
    elif loss_type == "ipo":
        if chosen_tokens is None or rejected_tokens is None:
            raise ValueError("the ipo loss needs the answers' token counts")
        logits = chosen_ratio / chosen_tokens - rejected_ratio / rejected_tokens
        losses = (logits - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown dpo loss {loss_type!r} (sigmoid or ipo)")
    return DpoOutput(losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach())


def reward_metrics(out: DpoOutput) -> dict[str, float]:
    """Means over the pairs: what status.metrics and the history report."""
    chosen, rejected = out.chosen_rewards.float(), out.rejected_rewards.float()
    return {
        "rewards/chosen": float(chosen.mean()),
        "rewards/rejected": float(rejected.mean()),
        "rewards/margin": float((chosen - rejected).mean()),
        "rewards/accuracy": float((chosen > rejected).float().mean()),
    }


def _token_logps(head: Any, hidden: Any, targets: Any) -> Any:
    from torch.nn import functional

    logits = head(hidden).float()  # float32 log-softmax, as transformers' loss does
    return -functional.cross_entropy(logits, targets, reduction="none")


def sequence_logps(model: Any, batch: dict[str, Any], sequences: int) -> tuple[Any, Any]:
    """(summed answer log-prob, answer token count) of each of ``sequences`` sequences in ``batch``.

    ``batch`` holds ``input_ids``, ``labels`` (IGNORE_INDEX off the answers), ``sequence_ids`` (which
    sequence each token belongs to; -1 for padding) and either ``attention_mask`` (padded rows) or
    ``position_ids`` (packed rows: positions restart per sequence, the mask is left out so that
    transformers keeps packed sequences apart).
    """
    import torch
    from torch.utils.checkpoint import checkpoint

    labels, owners = batch["labels"], batch["sequence_ids"]
    inputs = {k: v for k, v in batch.items() if k in ("attention_mask", "position_ids")}
    if "position_ids" in inputs:
        inputs.pop("attention_mask", None)
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    wanted, owner = targets[keep], owners[:, 1:][keep]
    if supports_supervised_loss(model):
        inner = causal_lm_of(model)
        hidden = inner.get_decoder()(input_ids=batch["input_ids"], use_cache=False, **inputs).last_hidden_state
        selected, head = hidden[:, :-1][keep], inner.get_output_embeddings()
        rows = max(1, CHUNK_LOGITS // int(inner.config.vocab_size))
        if selected.shape[0] <= rows:
            token_logps = _token_logps(head, selected, wanted)
        else:  # long batches: logits recomputed in backward, never all held at once
            token_logps = torch.cat(
                [
                    checkpoint(_token_logps, head, selected[i : i + rows], wanted[i : i + rows], use_reentrant=False)
                    for i in range(0, selected.shape[0], rows)
                ]
            )
    else:  # heads with soft-capping or scaling: the model's own logits
        logits = model(input_ids=batch["input_ids"], use_cache=False, **inputs).logits[:, :-1][keep]
        token_logps = -torch.nn.functional.cross_entropy(logits.float(), wanted, reduction="none")
    sums = torch.zeros(sequences, dtype=token_logps.dtype, device=token_logps.device)
    sums = sums.index_add(0, owner, token_logps)
    counts = torch.zeros(sequences, dtype=token_logps.dtype, device=token_logps.device)
    counts = counts.index_add(0, owner, torch.ones_like(token_logps))
    return sums, counts

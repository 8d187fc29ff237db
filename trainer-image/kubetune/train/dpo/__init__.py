"""Direct Preference Optimization (objective ``dpo``): preference pairs, loss, reference log-probs, loop.

- ``pairs``: preference records to token ids (loss only on each answer's tokens) and batches that put
  every pair's chosen and rejected answer in one forward pass (packed rows when the model allows it).
- ``loss``: per-sequence log-probabilities computed only at answer positions, and the DPO loss
  (sigmoid with label smoothing, or IPO) with its rewards.
- ``reference``: the reference model's log-probabilities, computed once before the first step from
  the model as it starts (for LoRA the base with the new adapter at zero, for a chain the parent's
  weights, for full fine-tuning the untouched weights): no second copy of the model in memory, and
  saved beside the checkpoints so that a resumed run keeps the same reference.
- ``loop``: the training loop, reporting loss and rewards/chosen, rewards/rejected, rewards/margin,
  rewards/accuracy like the supervised loop reports its loss.
"""

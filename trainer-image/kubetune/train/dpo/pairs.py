"""Preference records to token ids, and batches holding both answers of every pair.

Each answer is tokenized as the whole chat it completes (prompt + answer) under the model's chat
template, with labels only on the answer's tokens (``tokenize_chat``, as supervised training masks).
A batch of n pairs is 2n sequences: chosen answers 0..n-1, rejected answers n..2n-1, so one forward
pass scores both sides. Packed batches put the sequences end to end in as few rows as fit, with
positions restarting per sequence (no padding computed); padded batches right-pad rows.
``sequence_ids`` tells ``loss.sequence_logps`` which sequence each token belongs to.
"""

from __future__ import annotations

from typing import Any

from kubetune.crd.runconfig import RunDataset
from kubetune.formats import DatasetError, Example, PreferenceExample, render
from kubetune.train.chat_tokens import IGNORE_INDEX, tokenize_chat

Pair = dict[str, list[int]]


def _side(example: PreferenceExample, answer: Any, dataset: RunDataset, tokenizer: Any, max_length: int) -> Any:
    rendered = render(
        example.chat(answer),
        "final_only",  # the answers are the final turns; a pair has no separate reasoning to render
        system_message=dataset.system_message,
        thinking_instructions=dataset.thinking_instructions,
    )
    return tokenize_chat(tokenizer, rendered, max_length=max_length, train_on_inputs=False)


def encode_pairs(records: list[Example], dataset: RunDataset, tokenizer: Any, *, max_length: int) -> list[Pair]:
    """Token ids and answer labels of both sides; pairs with a side truncated to no answer token are dropped."""
    out: list[Pair] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, PreferenceExample):
            raise DatasetError(
                f"record {number} is a {type(record).__name__}; objective dpo needs preference "
                "pairs (formats openai-dpo or preference)",
                source=dataset.uri,
            )
        chosen = _side(record, record.chosen, dataset, tokenizer, max_length)
        rejected = _side(record, record.rejected, dataset, tokenizer, max_length)
        if all(any(t != IGNORE_INDEX for t in side.labels[1:]) for side in (chosen, rejected)):
            out.append(
                {
                    "chosen_ids": chosen.input_ids,
                    "chosen_labels": chosen.labels,
                    "rejected_ids": rejected.input_ids,
                    "rejected_labels": rejected.labels,
                }
            )
    return out


def sequences(pairs: list[Pair]) -> list[tuple[list[int], list[int]]]:
    """(ids, labels) of every chosen answer, then of every rejected one."""
    return [(p["chosen_ids"], p["chosen_labels"]) for p in pairs] + [
        (p["rejected_ids"], p["rejected_labels"]) for p in pairs
    ]


def collate_pairs(pairs: list[Pair], pad_id: int, *, packed: bool, max_length: int) -> dict[str, Any]:
    """One batch of ``2 * len(pairs)`` sequences (see the module docstring)."""
    import torch

    seqs = sequences(pairs)
    rows: list[dict[str, list[int]]] = []
    if packed:  # first-fit decreasing into rows of at most max_length tokens
        for index in sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0])):
            ids, labels = seqs[index]
            row = next((r for r in rows if len(r["input_ids"]) + len(ids) <= max_length), None)
            if row is None:
                row = {"input_ids": [], "labels": [], "position_ids": [], "sequence_ids": []}
                rows.append(row)
            row["input_ids"] += ids
            # The first token of a piece predicts nothing across the boundary.
            row["labels"] += [IGNORE_INDEX, *labels[1:]]
            row["position_ids"] += list(range(len(ids)))
            row["sequence_ids"] += [index] * len(ids)
    else:
        rows = [
            {"input_ids": ids, "labels": labels, "sequence_ids": [i] * len(ids)} for i, (ids, labels) in enumerate(seqs)
        ]
    width = max(len(r["input_ids"]) for r in rows)

    def pad(key: str, value: int) -> Any:
        return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows])

    batch = {
        "input_ids": pad("input_ids", pad_id),
        "labels": pad("labels", IGNORE_INDEX),
        "sequence_ids": pad("sequence_ids", 0),  # padding carries no label: its owner is never read
        "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]),
    }
    if packed:
        batch["position_ids"] = torch.tensor(
            [r["position_ids"] + list(range(width - len(r["position_ids"]))) for r in rows]
        )
    return batch


def batch_tokens(batch: dict[str, Any]) -> int:
    """Real (non-padding) tokens in a batch: what tokens/s counts."""
    return int(batch["attention_mask"].sum())

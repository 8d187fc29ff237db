"""Seed 001's split definitions: which rows go to which split (pure, deterministic by seed)."""

from __future__ import annotations

import random

SPLIT_FRACTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "all": (("train", 1.0),),
    "train_test": (("train", 0.8), ("test", 0.2)),
    "train_val": (("train", 0.8), ("validation", 0.2)),
    "train_test_val": (("train", 0.6), ("test", 0.2), ("validation", 0.2)),
    "train_test_val_80": (("train", 0.8), ("test", 0.1), ("validation", 0.1)),
}


def assign(rows: int, definition: str, seed: int = 42) -> dict[str, list[int]]:
    """Row indices per split: shuffled with the seed, cut by the fractions, the last split takes the rest."""
    order = list(range(rows))
    random.Random(seed).shuffle(order)  # noqa: S311 - reproducible sampling, not security
    parts = SPLIT_FRACTIONS[definition]
    out: dict[str, list[int]] = {}
    start = 0
    for index, (name, fraction) in enumerate(parts):
        end = rows if index == len(parts) - 1 else start + round(rows * fraction)
        out[name] = sorted(order[start:end])
        start = end
    return out


def rows_for(rows: int, split_name: str, definitions: list[tuple[str, int]]) -> list[int]:
    """Rows of `split_name` under the first definition that has it; `train`/`all` with none is every row."""
    for definition, seed in definitions:
        parts = assign(rows, definition, seed)
        if split_name in parts:
            return parts[split_name]
    if split_name in ("train", "all"):
        return list(range(rows))
    raise KeyError(split_name)

"""Seed 001's split definitions: which rows go to which split (pure, deterministic by seed)."""

from __future__ import annotations

import random

from kubetune.crd.splits import SPLIT_FRACTIONS as SPLIT_FRACTIONS
from kubetune.crd.splits import split_sizes


def assign(rows: int, definition: str, seed: int = 42) -> dict[str, list[int]]:
    """Row indices per split: shuffled with the seed, cut into the sizes the Dataset's status reports."""
    order = list(range(rows))
    random.Random(seed).shuffle(order)  # noqa: S311 - reproducible sampling, not security
    out: dict[str, list[int]] = {}
    start = 0
    for name, size in split_sizes(rows, definition):
        out[name] = sorted(order[start : start + size])
        start += size
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

"""Seed 001's split definitions and how many rows each split gets: shared by the operator (Dataset
status) and the facade (the rows a download holds), so both always agree."""

from __future__ import annotations

# Definition name (DatasetSpec.splits[].name) -> (split, fraction) in order; train always first.
SPLIT_FRACTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "all": (("train", 1.0),),
    "train_test": (("train", 0.8), ("test", 0.2)),
    "train_val": (("train", 0.8), ("validation", 0.2)),
    "train_test_val": (("train", 0.6), ("test", 0.2), ("validation", 0.2)),
    "train_test_val_80": (("train", 0.8), ("test", 0.1), ("validation", 0.1)),
}


def split_sizes(rows: int, definition: str) -> list[tuple[str, int]]:
    """(split, rows) in order: each split its fraction rounded down, the remainder to train.

    KeyError for an unknown definition.
    """
    parts = SPLIT_FRACTIONS[definition]
    sizes = [int(rows * fraction) for _, fraction in parts]
    sizes[0] += rows - sum(sizes)
    return [(name, size) for (name, _), size in zip(parts, sizes, strict=True)]

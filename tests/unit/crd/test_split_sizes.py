"""One split rule for the Dataset's status (operator) and the rows a download holds (facade)."""

from __future__ import annotations

import pytest

from kubetune.api.mapping.splits import assign
from kubetune.crd.splits import SPLIT_FRACTIONS, split_sizes
from kubetune.operator.datasets import split_counts

pytestmark = pytest.mark.unit


def test_fractions_round_down_and_train_takes_the_remainder() -> None:
    assert split_sizes(7, "train_test_val") == [("train", 5), ("test", 1), ("validation", 1)]
    assert split_sizes(101, "train_test_val") == [("train", 61), ("test", 20), ("validation", 20)]
    assert split_sizes(0, "train_test") == [("train", 0), ("test", 0)]


@pytest.mark.parametrize("definition", sorted(SPLIT_FRACTIONS))
@pytest.mark.parametrize("rows", [1, 7, 13, 101])
def test_status_counts_and_download_rows_agree(definition: str, rows: int) -> None:
    reported = {c["name"]: c["rows"] for c in split_counts(rows, [definition])}
    drawn = {name: len(indices) for name, indices in assign(rows, definition).items()}
    assert reported == drawn
    assert sum(drawn.values()) == rows

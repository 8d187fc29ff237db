"""Kubernetes quantities in bytes: the one parser behind the operator's vLLM KV cache and the local node's
memory limits."""

from __future__ import annotations

import pytest

from kubetune.crd.quantity import quantity_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("128Mi", 128 * 2**20),
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("8Gi", 8 * 2**30),
        ("1.5Gi", 3 * 2**29),
        ("1G", 10**9),
        ("2G", 2 * 10**9),
        ("500k", 500_000),
        ("100k", 100_000),
        ("1e6", 10**6),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_memory_quantities_in_bytes(quantity: str | int, expected: int) -> None:
    assert quantity_bytes(quantity) == expected


def test_what_is_not_a_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        quantity_bytes("lots")

"""Kubernetes quantities in numbers: one parser for the operator (vLLM's KV cache from a memory limit) and
the local node (the memory limit it enforces)."""

from __future__ import annotations

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def quantity_bytes(quantity: str | int | float) -> int:
    """A Kubernetes memory quantity ("512Mi", "1G", "1e9", 1048576) in bytes."""
    match = _QUANTITY.match(str(quantity).strip())
    if match is None:
        raise ValueError(f"not a quantity: {quantity!r}")
    number, suffix = float(match.group(1)), match.group(2) or ""
    return int(number * (_BINARY.get(suffix) or _DECIMAL[suffix]))

"""Container limits the local node enforces itself: memory, as a cgroup would (OOMKilled)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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


def memory_limit(container: Mapping[str, Any]) -> int | None:
    """limits.memory in bytes, or None when the container has none (or one the API would have refused)."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None:
        return None
    try:
        return quantity_bytes(limit)
    except ValueError:
        return None

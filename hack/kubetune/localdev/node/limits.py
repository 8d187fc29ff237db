"""Container limits the local node enforces itself: memory, as a cgroup would (OOMKilled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.crd.quantity import quantity_bytes


def memory_limit(container: Mapping[str, Any]) -> int | None:
    """limits.memory in bytes, or None when the container has none (or one the API would have refused)."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None:
        return None
    try:
        return quantity_bytes(limit)
    except ValueError:
        return None

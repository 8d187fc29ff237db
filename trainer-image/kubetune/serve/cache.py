"""The result cache: identical requests to the same model version get the stored answer.

Bounded twice: entries expire after ``ttl_seconds`` and the least recently
used entry goes when ``max_entries`` is reached. The clock is injectable so
that expiry is tested without waiting.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


def cache_key(model_version: str, kind: str, request: Any) -> str:
    """A stable digest of the model version, the kind of work and the canonical request."""
    canonical = json.dumps([model_version, kind, request], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResultCache:
    """A TTL + LRU map; not thread-safe, used from the event loop only."""

    def __init__(self, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.ttl_seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if not self.enabled:
            return
        self._entries[key] = (self._clock() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (the served adapters changed: an adapter name may now mean other weights)."""
        self._entries.clear()

"""The result cache: TTL expiry on an injected clock, LRU size bound, stable keys."""

from __future__ import annotations

import pytest

from kubetune.serve.cache import ResultCache, cache_key

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = ResultCache(ttl_seconds=3600, max_entries=10, clock=clock)
    cache.put("k", 1)
    clock.now += 3599
    assert cache.get("k") == 1
    clock.now += 2
    assert cache.get("k") is None
    assert len(cache) == 0


def test_least_recently_used_goes_first() -> None:
    cache = ResultCache(ttl_seconds=60, max_entries=2, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert (cache.hits, cache.misses) == (3, 1)


def test_disabled_cache_stores_nothing() -> None:
    cache = ResultCache(ttl_seconds=0, max_entries=10)
    cache.put("a", 1)
    assert cache.get("a") is None


def test_keys_depend_on_version_kind_and_request_but_not_dict_order() -> None:
    base = cache_key("v1", "score", {"text": "x", "adapter": None})
    assert base == cache_key("v1", "score", {"adapter": None, "text": "x"})
    assert base != cache_key("v2", "score", {"text": "x", "adapter": None})
    assert base != cache_key("v1", "image", {"text": "x", "adapter": None})
    assert base != cache_key("v1", "score", {"text": "y", "adapter": None})

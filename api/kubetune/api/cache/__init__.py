"""A watch-fed in-memory cache of the resources the facade reads."""

from kubetune.api.cache.cache import Cache, Change
from kubetune.api.cache.store import Store

__all__ = ["Cache", "Change", "Store"]

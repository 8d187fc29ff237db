"""Everything a request handler needs, built once per app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from kubetune.api.auth.authorizer import Authorizer
from kubetune.api.auth.impersonation import CallerCluster
from kubetune.api.auth.principal import Principal
from kubetune.api.auth.users import UserStore
from kubetune.api.cache import Cache
from kubetune.api.cluster import Cluster
from kubetune.api.core.config import Settings
from kubetune.api.mapping.ids import IdAllocator
from kubetune.api.storage.store import ArtifactStore


@dataclass
class AppContext:
    """`cluster` is what handlers write through: in a request, the caller's impersonated view
    (for_caller); `own_cluster` is the facade's own account (watch cache, users Secret, ids, reviews)."""

    settings: Settings
    cluster: Cluster
    cache: Cache
    ids: IdAllocator
    users: UserStore
    storage: ArtifactStore
    http: httpx.AsyncClient
    own_cluster: Cluster
    authorizer: Authorizer

    def for_caller(self, caller: Callable[[], Principal | None]) -> AppContext:
        return replace(self, cluster=CallerCluster(self.own_cluster, caller))

    @classmethod
    def build(cls, settings: Settings, cluster: Cluster, http: httpx.AsyncClient | None = None) -> AppContext:
        cache = Cache(cluster, settings)
        ids = IdAllocator(cluster, settings.system_namespace, settings.ids_config_map)
        return cls(settings=settings, cluster=cluster, cache=cache, ids=ids,
                   users=UserStore(cluster, cache, settings, ids), storage=ArtifactStore(settings.storage_root),
                   http=http or httpx.AsyncClient(timeout=settings.proxy_timeout_seconds),
                   own_cluster=cluster, authorizer=Authorizer(cluster))

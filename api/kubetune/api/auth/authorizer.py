"""Kubernetes decides what a caller may see: SubjectAccessReviews, asked with the facade's own account.

Reads are served from the watch cache, so the API server never sees them; before one is answered the
facade asks whether the caller could have made it. A project is visible when the caller may `get` its
Namespace (every project role grants that, and read access to every kubetune kind in it); writes need no
question here, they are sent with impersonation and Kubernetes refuses them itself. Answers are kept for
a few seconds per (identity, question): a revoked membership stops showing within that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import Cluster, Identity, Res, ResourceAttributes
from kubetune.api.core.errors import ApiError

TTL_SECONDS = 5.0
MAX_ENTRIES = 20_000  # a bound on memory; the cache is simply emptied when it is reached
AUTHENTICATED = "system:authenticated"  # impersonated requests carry it, so the reviews must too

Key = tuple[str, tuple[str, ...], ResourceAttributes]


def identity_of(principal: Principal) -> Identity:
    return Identity(principal.kube_user, principal.kube_groups)


def project_question(namespace: str) -> ResourceAttributes:
    """`kubectl get namespace <ns>` as the caller: a RoleBinding in the namespace can grant it."""
    return ResourceAttributes(verb="get", resource="namespaces", namespace=namespace, name=namespace)


CLUSTER_WIDE = ResourceAttributes(verb="list", resource="namespaces")


class Authorizer:
    def __init__(self, cluster: Cluster, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cluster = cluster
        self._ttl = ttl
        self._clock = clock
        self._answers: dict[Key, tuple[float, bool]] = {}

    async def allowed(self, identity: Identity, attributes: ResourceAttributes) -> bool:
        groups = identity.groups if AUTHENTICATED in identity.groups else (*identity.groups, AUTHENTICATED)
        key = (identity.user, groups, attributes)
        now = self._clock()
        hit = self._answers.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = await self._cluster.access_review(Identity(identity.user, groups), attributes)
        if len(self._answers) >= MAX_ENTRIES:
            self._answers.clear()
        self._answers[key] = (now + self._ttl, answer)
        return answer

    async def visibility(self, principal: Principal, namespaces: Iterable[str]) -> tuple[bool, frozenset[str]]:
        """(may read namespaces cluster-wide, the project namespaces among `namespaces` it may see)."""
        identity = identity_of(principal)
        names = sorted(set(namespaces))
        if await self.allowed(identity, CLUSTER_WIDE):
            return True, frozenset(names)
        answers = await asyncio.gather(*(self.allowed(identity, project_question(ns)) for ns in names))
        return False, frozenset(ns for ns, ok in zip(names, answers, strict=True) if ok)

    async def require(self, principal: Principal, verb: str, res: Res, namespace: str, name: str = "") -> None:
        """403 unless Kubernetes would let the caller do this: for work the facade does outside
        Kubernetes first (writing an upload into the project's store), so a refused caller leaves nothing."""
        attributes = ResourceAttributes(verb=verb, resource=res.plural, group=res.group, namespace=namespace,
                                        name=name)
        if not await self.allowed(identity_of(principal), attributes):
            raise ApiError(403, f"not allowed to {verb} {res.plural} in this project")

    def forget(self, identity: Identity | None = None) -> None:
        """Drop cached answers (all, or one identity's) after a change the facade made itself, e.g. membership."""
        if identity is None:
            self._answers.clear()
            return
        for key in [k for k in self._answers if k[0] == identity.user]:
            del self._answers[key]

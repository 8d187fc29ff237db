"""The Cluster a request handler gets: every call impersonates the authenticated caller.

deps.get_context hands routes an AppContext whose `cluster` is a CallerCluster, so no route can
write with the facade's own account by forgetting something: the caller is looked up when a call
is made (deps.get_current_user has stored it on the request by then), and a call without an
authenticated caller fails closed. Token and access reviews are the facade's own acts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from kubetune.api.auth.authorizer import identity_of
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import Cluster, Identity, ListResult, Res, ResourceAttributes, TokenReviewResult, WatchEvent
from kubetune.api.cluster.base import LogOptions, Obj
from kubetune.api.core.errors import ApiError


class CallerCluster:
    def __init__(self, own: Cluster, caller: Callable[[], Principal | None]) -> None:
        self._own = own
        self._caller = caller

    def _as_caller(self) -> Cluster:
        principal = self._caller()
        if principal is None:
            raise ApiError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return self._own.as_user(identity_of(principal))

    async def create(self, res: Res, body: Obj, namespace: str | None = None) -> Obj:
        return await self._as_caller().create(res, body, namespace)

    async def get(self, res: Res, name: str, namespace: str | None = None) -> Obj:
        return await self._as_caller().get(res, name, namespace)

    async def replace(self, res: Res, name: str, body: Obj, namespace: str | None = None) -> Obj:
        return await self._as_caller().replace(res, name, body, namespace)

    async def patch(self, res: Res, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None) -> Obj:
        return await self._as_caller().patch(res, name, patch, namespace, subresource)

    async def delete(self, res: Res, name: str, namespace: str | None = None) -> None:
        await self._as_caller().delete(res, name, namespace)

    async def list(self, res: Res, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> ListResult:
        return await self._as_caller().list(res, namespace, label_selector, field_selector)

    async def watch(self, res: Res, resource_version: str, namespace: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None
                    ) -> AsyncIterator[WatchEvent]:
        async for event in self._as_caller().watch(res, resource_version, namespace, label_selector,
                                                   field_selector):
            yield event

    async def pod_log(self, name: str, namespace: str, options: LogOptions) -> AsyncIterator[bytes]:
        async for chunk in self._as_caller().pod_log(name, namespace, options):
            yield chunk

    async def token_review(self, token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        return await self._own.token_review(token, audiences)

    async def access_review(self, identity: Identity, attributes: ResourceAttributes) -> bool:
        return await self._own.access_review(identity, attributes)

    def as_user(self, identity: Identity) -> Cluster:
        return self._own.as_user(identity)

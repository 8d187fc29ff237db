"""The operations the routes and the cache need from Kubernetes.

Objects travel as plain dicts in the API server's JSON shape; failures are
`kubernetes.client.ApiException` with the API server's status, whichever
implementation raised them, so core/errors.py maps them in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kubernetes.client import ApiException

from kubetune.api.cluster.resources import Res

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]


def api_exception(status: int, reason: str | None, body: str | None) -> ApiException:
    """An ApiException carrying the server's body, whichever client release is installed
    (the `body=` keyword exists only from kubernetes 37 on; the attribute always does)."""
    exc = ApiException(status=status, reason=reason)
    exc.body = body
    return exc


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    object: Obj


@dataclass(frozen=True)
class ListResult:
    items: list[Obj]
    resource_version: str


@dataclass(frozen=True)
class Identity:
    """Whom a request is made as (Impersonate-User / Impersonate-Group)."""

    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceAttributes:
    """What a SubjectAccessReview asks about: verb on group/resource[/subresource][/name] in namespace."""

    verb: str
    resource: str
    group: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""


@dataclass(frozen=True)
class TokenReviewResult:
    authenticated: bool
    username: str = ""
    groups: tuple[str, ...] = field(default=())
    audiences: tuple[str, ...] = field(default=())  # those of the requested audiences the token was minted for


@dataclass(frozen=True)
class LogOptions:
    """The query of GET pods/{name}/log (pods/log subresource)."""

    container: str | None = None
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None


class Cluster(Protocol):
    """A Kubernetes API as the facade uses it. `patch` is a JSON merge patch."""

    async def create(self, res: Res, body: Obj, namespace: str | None = None) -> Obj: ...

    async def get(self, res: Res, name: str, namespace: str | None = None) -> Obj: ...

    async def replace(self, res: Res, name: str, body: Obj, namespace: str | None = None) -> Obj:
        """PUT; a body carrying metadata.resourceVersion fails with 409 when the object moved on."""
        ...

    async def patch(self, res: Res, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None) -> Obj: ...

    async def delete(self, res: Res, name: str, namespace: str | None = None) -> None: ...

    async def list(self, res: Res, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> ListResult: ...

    def watch(self, res: Res, resource_version: str, namespace: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None
              ) -> AsyncIterator[WatchEvent]:
        """Events after resource_version; raises ApiException(410) when that version is too old."""
        ...

    def pod_log(self, name: str, namespace: str, options: LogOptions) -> AsyncIterator[bytes]:
        """The pod's log as chunks (pods/log); with follow, until the container ends or the caller stops."""
        ...

    async def token_review(self, token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        """Who the token belongs to; with audiences, only a token minted for one of them authenticates."""
        ...

    async def access_review(self, identity: Identity, attributes: ResourceAttributes) -> bool:
        """A SubjectAccessReview: may identity do this? (asked with the facade's own account)"""
        ...

    def as_user(self, identity: Identity) -> Cluster:
        """The same API, every call made with Kubernetes impersonation of identity."""
        ...

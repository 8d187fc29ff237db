"""Shared by the handlers: the registry, resource coordinates, the runtime in memo, index lookups,
the platform's own objects in project Namespaces."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import kopf

from kubetune.crd.kinds import Kind
from kubetune.operator.kube import ApiError, Kube
from kubetune.operator.runtime import Runtime

REGISTRY = kopf.OperatorRegistry()
T = TypeVar("T")


def resource(kind: Kind) -> tuple[str, str, str]:
    """(group, version, plural) for kopf decorators."""
    group, version = kind.api_version.split("/")
    return group, version, kind.plural


def runtime_of(memo: Any) -> Runtime:
    """The Runtime that main() put into kopf's memo."""
    rt = memo["runtime"]
    assert isinstance(rt, Runtime)
    return rt


def one(index: Mapping[Any, Any], key: Any) -> Any | None:
    """The single value an index holds for a key (objects are unique per key), or None."""
    store = index.get(key)
    if not store:
        return None
    for value in store:
        return value
    return None


def many(index: Mapping[Any, Any], key: Any) -> list[Any]:
    return list(index.get(key) or ())


@contextmanager
def api_errors() -> Iterator[None]:
    """API errors as kopf control flow: transient ones retry later, the rest stop retrying."""
    try:
        yield
    except ApiError as exc:
        if exc.transient:
            raise kopf.TemporaryError(f"API server: {exc}", delay=5) from exc
        if exc.status in (401, 403):
            # RBAC may be fixed by an administrator: keep retrying, slowly.
            raise kopf.TemporaryError(f"forbidden: {exc}", delay=60) from exc
        raise kopf.PermanentError(f"API server refused: {exc}") from exc


def guarded(kind: str, rt: Runtime, fn: Callable[[], T]) -> T:
    """Run one reconciliation with metrics and error mapping."""
    with rt.metrics.reconcile(kind), api_errors():
        return fn()


def standing(type: str | None, body: Mapping[str, Any]) -> bool:
    """A Namespace event worth reconciling: not its deletion, nor while it terminates (the API server
    refuses new objects in a terminating namespace, and the namespace controller removes the rest)."""
    return type != "DELETED" and (body.get("status") or {}).get("phase") != "Terminating"


def keep_spec(kube: Kube, obj: Mapping[str, Any]) -> None:
    """Create obj, or put its spec back where the stored one differs (the chart's settings or an
    administrator's override changed, or someone edited it): for objects whose spec is the platform's word."""
    if kube.create(obj) is not None:
        return
    meta = obj["metadata"]
    current = kube.get(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])  # 409: it exists
    if current is not None and current.get("spec") != obj["spec"]:
        kube.replace({**obj, "metadata": {**meta, "resourceVersion": current["metadata"]["resourceVersion"]}})

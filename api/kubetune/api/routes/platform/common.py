"""Helpers shared by the seed 003 routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from kubetune.api.access import allowed_namespaces
from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.mapping import meta
from kubetune.api.mapping.platform import ProjectIds

T = TypeVar("T")


def project_ids(ctx: AppContext) -> ProjectIds:
    def lookup(namespace: str) -> int | None:
        ns = ctx.cache.namespaces.get(namespace)
        return meta.numeric_id(ns) if ns else None

    return lookup


def window(items: Sequence[T], skip: int, limit: int) -> list[T]:
    return list(items[skip: skip + limit])


def namespaces_of(ctx: AppContext, user: Principal) -> set[str] | None:
    """None means all (callers Kubernetes lets read namespaces cluster-wide)."""
    return None if user.cluster_wide else allowed_namespaces(ctx.cache, user)

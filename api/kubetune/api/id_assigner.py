"""Give seed 003 numeric ids to objects created outside the facade (kubectl, the operator).

The patch carries the resourceVersion it saw, so two replicas racing on the same object
cannot both stamp it: the loser gets 409 and leaves the winner's id in place.
"""

from __future__ import annotations

import asyncio
import logging

from kubernetes.client import ApiException

from kubetune.api.cache import Cache
from kubetune.api.cluster import DATASETS, INFERENCE_SERVICES, NAMESPACES, TRAININGS, Cluster, Res
from kubetune.api.mapping import meta
from kubetune.api.mapping.ids import IdAllocator
from kubetune.api.mapping.meta import Obj
from kubetune.crd import labels as lbl

NUMBERED = (TRAININGS, DATASETS, INFERENCE_SERVICES, NAMESPACES)


async def assign_id(cluster: Cluster, cache: Cache, ids: IdAllocator, res: Res, obj: Obj) -> None:
    if meta.numeric_id(obj):
        return
    ident = await ids.allocate()
    patch = {"metadata": {"resourceVersion": meta.meta(obj).get("resourceVersion"),
                          "annotations": {lbl.NUMERIC_ID: str(ident)}}}
    try:
        updated = await cluster.patch(res, meta.name(obj), patch, meta.namespace(obj) or None)
    except ApiException as exc:
        if exc.status in (404, 409):  # gone, or changed: the next event brings it back if still unnumbered
            return
        raise
    cache.remember(res, updated)


async def run(cluster: Cluster, cache: Cache, ids: IdAllocator) -> None:
    """Forever: sweep what is held, then follow changes (a sweep again after a subscription overflow)."""
    while True:
        await _sweep_and_follow(cluster, cache, ids)


async def _sweep_and_follow(cluster: Cluster, cache: Cache, ids: IdAllocator) -> None:
    log = logging.getLogger(__name__)
    with cache.subscribe(maxsize=10000) as sub:
        for res in NUMBERED:
            for obj in cache.store_for(res).all():
                await _safe(assign_id(cluster, cache, ids, res, obj), log)
        async for change in sub.changes():
            if change.res in NUMBERED and change.type != "DELETED":
                await _safe(assign_id(cluster, cache, ids, change.res, change.object), log)


async def _safe(work: object, log: logging.Logger) -> None:
    try:
        await work  # type: ignore[misc]
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("could not assign a numeric id")

"""Scale from zero: a request for an InferenceService at zero replicas wakes it and waits, bounded.

The facade holds no state of its own here. It writes the service's ``kubetune.io/last-request``
annotation (refreshed at most every few seconds, so busy services cost one patch per interval, not
per request); the operator reads it both as the idleness clock and as the wake-up call
(kubetune.operator.scale_to_zero). Any viewer may call a model, so the write uses the facade's own
account, like the numeric-id annotation (charts/kubetune/templates/api/rbac.yaml).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from kubetune.api.cluster import INFERENCE_SERVICES
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION, LAST_REQUEST_REFRESH_SECONDS

log = logging.getLogger(__name__)

ASLEEP = "ScaledToZero"


def scales_to_zero(isvc: Obj) -> bool:
    return bool((meta.spec(isvc).get("autoscaling") or {}).get("scaleToZero"))


def _stale(isvc: Obj, now: datetime) -> bool:
    """Whether the last-request annotation is old enough (or missing) to be written again."""
    value = (meta.meta(isvc).get("annotations") or {}).get(LAST_REQUEST_ANNOTATION)
    try:
        last = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return True
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return (now - last).total_seconds() >= LAST_REQUEST_REFRESH_SECONDS


async def record_request(ctx: AppContext, isvc: Obj, force: bool = False) -> None:
    """Move the service's idleness clock (and wake it when at zero)."""
    now = datetime.now(UTC)
    if not force and not _stale(isvc, now):
        return
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch = {"metadata": {"annotations": {LAST_REQUEST_ANNOTATION: stamp}}}
    await ctx.own_cluster.patch(INFERENCE_SERVICES, meta.name(isvc), patch, meta.namespace(isvc))


def _phase(isvc: Obj | None) -> str | None:
    return meta.status(isvc).get("phase") if isvc is not None else None


async def ensure_awake(ctx: AppContext, isvc: Obj) -> Obj:
    """The service, Ready to answer: a service at zero is woken and awaited (bounded), then answers."""
    if not scales_to_zero(isvc):
        return isvc
    asleep = _phase(isvc) == ASLEEP
    await record_request(ctx, isvc, force=asleep)
    if not asleep:
        return isvc
    name, namespace = meta.name(isvc), meta.namespace(isvc)
    store = ctx.cache.inference_services
    timeout = ctx.settings.scale_from_zero_timeout_seconds
    log.info("waking InferenceService %s/%s from zero", namespace, name)
    try:
        await ctx.cache.until(lambda: _phase(store.get(name, namespace)) in ("Ready", "Failed", None),
                              timeout=timeout)
    except TimeoutError:
        raise ApiError(503, f"model {name!r} is scaling up from zero and was not ready within {timeout:g}s; "
                       "retry shortly", code="MODEL_NOT_READY",
                       headers={"Retry-After": str(max(1, int(timeout // 4)))}) from None
    woken = store.get(name, namespace)
    if woken is None:
        raise ApiError(404, f"model {name!r} not found")
    return woken

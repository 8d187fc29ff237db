"""GET /api/v1/metrics/loss: a Training's loss curve."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from kubetune.api import access
from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import loss, meta
from kubetune.api.mapping.meta import Obj, is_number
from kubetune.api.schemas.platform import LossCurve, LossMetrics, LossPoint

router = APIRouter()
MAX_LOG_LINES = 200_000


def _by_experiment_name(mine: list[Obj], ref: str) -> Obj | None:
    """A Training by its object name, else by the experiment name it was submitted with (spec.displayName,
    which seed 003's submit sets while the object is named `<name>-<suffix>`). Several matches in the caller's
    projects: the newest, as a client that reuses a name means its latest run."""
    named = [t for t in mine if meta.name(t) == ref] or [
        t for t in mine if (meta.spec(t).get("displayName") or "") == ref]
    return max(named, key=meta.created) if named else None


def find_training(ctx: AppContext, user: Principal, ref: str | None) -> Obj:
    """By numeric id, uid, `namespace/name`, name or experiment name; without a ref, the caller's newest
    Training with a curve."""
    cache = ctx.cache
    if ref is None:
        mine = [t for t in access.visible(cache, user, cache.trainings.all()) if meta.status(t).get("history")]
        if not mine:
            raise ApiError(404, "no training with a loss curve yet")
        return max(mine, key=meta.created)
    found = cache.trainings.by_id(int(ref)) if is_number(ref) else cache.trainings.by_uid(ref)
    if found is None and "/" in ref:
        namespace, _, name = ref.partition("/")
        found = cache.trainings.get(name, namespace)
    if found is None:
        found = _by_experiment_name(access.visible(cache, user, cache.trainings.all()), ref)
    if found is None:
        raise ApiError(404, f"experiment {ref!r} not found")
    access.check_namespace(cache, user, meta.namespace(found))
    return found


@router.get("/metrics/loss", response_model=LossCurve, operation_id="platform_loss_curve")
async def loss_curve(ctx: ContextDep, user: CurrentUser, experiment_id: str | None = None,
                     steps: Annotated[int, Query(ge=1, le=10000)] = 100) -> LossCurve:
    training = find_training(ctx, user, experiment_id)
    points = loss.from_history(training)
    log_uri = meta.status(training).get("metricsLog")
    namespace = meta.namespace(training)
    if log_uri and ctx.storage.owns(log_uri, namespace):  # the Training's own project only
        try:  # the full log beats the downsampled history when the store has it
            logged = await asyncio.to_thread(
                lambda: loss.from_log(ctx.storage.read_uri_lines(namespace, log_uri, MAX_LOG_LINES)))
        except (OSError, ValueError, ApiError):
            logged = []
        if len(logged) > len(points):
            points = logged
    total = (meta.status(training).get("progress") or {}).get("totalSteps") or (
        points[-1]["step"] if points else 0)
    return LossCurve(
        experiment_id=experiment_id or str(meta.numeric_id(training) or meta.uid(training)),
        total_steps=int(total), metrics=LossMetrics(**loss.summary(training, points)),
        data=[LossPoint(**p) for p in loss.downsample(points, steps)])

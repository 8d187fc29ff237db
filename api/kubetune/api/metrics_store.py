"""Metrics created through seed 000's API: one ConfigMap per Training, owned by it, bounded in size.

Trainer-reported metrics (status.history and status.metrics) are shown next to them,
read-only. The ConfigMap is garbage-collected with its Training and survives facade restarts.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiException

from kubetune.api.cache.cache import METRICS_COMPONENT
from kubetune.api.cluster import CONFIG_MAPS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.sktai import TrainingMetricCreate, TrainingMetricRead
from kubetune.crd import labels as lbl

MAX_ATTEMPTS = 5


def config_map_name(training: str) -> str:
    full = f"{training}-metrics"
    if len(full) <= 63:
        return full
    return f"{training[:46]}-{hashlib.sha256(training.encode()).hexdigest()[:8]}-metrics"


def trainer_metrics(training: Obj) -> list[TrainingMetricRead]:
    uid = meta.uid(training)
    out = []
    for point in meta.status(training).get("history") or []:
        for key, name in (("loss", "loss"), ("evalLoss", "eval_loss"), ("learningRate", "learning_rate")):
            if point.get(key) is not None:
                out.append(TrainingMetricRead(
                    id=f"trainer-{point.get('step', 0)}-{name}", training_id=uid, name=name, value=point[key],
                    step=point.get("step"), epoch=point.get("epoch"), source="trainer", created_at=None))
    return out


def api_metrics(ctx: AppContext, training: Obj) -> list[TrainingMetricRead]:
    cm = ctx.cache.config_maps.get(config_map_name(meta.name(training)), meta.namespace(training))
    out = []
    for key, raw in sorted(((cm or {}).get("data") or {}).items()):
        try:
            out.append(TrainingMetricRead(id=key, training_id=meta.uid(training), source="api", **json.loads(raw)))
        except (ValueError, TypeError):
            continue
    return out


async def _write(ctx: AppContext, training: Obj, change: dict[str, Any]) -> None:
    """Merge `change` into the ConfigMap's data (None deletes), creating it owned by the Training."""
    name, ns = config_map_name(meta.name(training)), meta.namespace(training)
    for _ in range(MAX_ATTEMPTS):
        current = ctx.cache.config_maps.get(name, ns)
        if current is None:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": name, "namespace": ns,
                "labels": {lbl.COMPONENT: METRICS_COMPONENT, lbl.TRAINING: meta.name(training)},
                "ownerReferences": [{"apiVersion": training.get("apiVersion", "kubetune.io/v1alpha1"),
                                     "kind": "Training", "name": meta.name(training), "uid": meta.uid(training)}]},
                "data": {k: v for k, v in change.items() if v is not None}}
            try:
                ctx.cache.remember(CONFIG_MAPS, await ctx.cluster.create(CONFIG_MAPS, body, ns))
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise
                ctx.cache.remember(CONFIG_MAPS, await ctx.cluster.get(CONFIG_MAPS, name, ns))
                continue
        patch = {"metadata": {"resourceVersion": meta.meta(current).get("resourceVersion")}, "data": change}
        try:
            ctx.cache.remember(CONFIG_MAPS, await ctx.cluster.patch(CONFIG_MAPS, name, patch, ns))
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
            ctx.cache.remember(CONFIG_MAPS, await ctx.cluster.get(CONFIG_MAPS, name, ns))
    raise ApiError(409, "metrics were changed concurrently; try again")


def _record(body: TrainingMetricCreate, created: datetime | None) -> str:
    now = datetime.now(UTC)
    return json.dumps({"name": body.name, "value": body.value, "step": body.step, "epoch": body.epoch,
                       "created_at": (created or now).isoformat(), "updated_at": now.isoformat()})


async def create(ctx: AppContext, training: Obj, body: TrainingMetricCreate) -> TrainingMetricRead:
    if len(api_metrics(ctx, training)) >= ctx.settings.max_api_metrics:
        raise ApiError(409, f"a training keeps at most {ctx.settings.max_api_metrics} API metrics")
    key = f"m-{uuid.uuid4().hex[:12]}"
    await _write(ctx, training, {key: _record(body, None)})
    return get(ctx, training, key)


def get(ctx: AppContext, training: Obj, metric_id: str) -> TrainingMetricRead:
    for metric in api_metrics(ctx, training) + trainer_metrics(training):
        if metric.id == metric_id:
            return metric
    raise ApiError(404, f"metric {metric_id!r} not found")


async def update(ctx: AppContext, training: Obj, metric_id: str, body: TrainingMetricCreate) -> TrainingMetricRead:
    current = get(ctx, training, metric_id)
    if current.source == "trainer":
        raise ApiError(409, "trainer-reported metrics are read-only")
    await _write(ctx, training, {metric_id: _record(body, current.created_at)})
    return get(ctx, training, metric_id)


async def delete(ctx: AppContext, training: Obj, metric_id: str) -> None:
    current = get(ctx, training, metric_id)
    if current.source == "trainer":
        raise ApiError(409, "trainer-reported metrics are read-only")
    await _write(ctx, training, {metric_id: None})

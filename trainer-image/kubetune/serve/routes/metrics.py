"""Prometheus exposition at /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kubetune.serve.deps import Engine
from kubetune.serve.devices import gpu_memory_used_bytes

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response)
async def metrics(engine: Engine) -> Response:
    m = engine.metrics
    # Gauges of live state are read at scrape time rather than updated on every change.
    m.queue_depth.set(engine.admission.queued)
    m.active.set(engine.admission.active)
    m.gpu_memory.set(gpu_memory_used_bytes())
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

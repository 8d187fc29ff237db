"""Probes: /healthz (the process is up) and /readyz (seed 002's model status)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from kubetune.serve.deps import Engine
from kubetune.serve.devices import gpu_available
from kubetune.serve.engine import InferenceEngine
from kubetune.serve.schemas import Health, ModelStatus, QueueStatusModel

router = APIRouter(tags=["health"])


def model_status(engine: InferenceEngine) -> ModelStatus:
    queue = engine.admission.status()
    return ModelStatus(
        model_ready=engine.runtime is not None,
        model_version=engine.settings.model_version,
        gpu_available=gpu_available(),
        concurrent_requests=queue.active_requests,
        queue_size=queue.queued_requests,
        queue_status=QueueStatusModel(**queue.to_json()),
        task=engine.settings.task,
        error=engine.load_error,
    )


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=ModelStatus, responses={503: {"model": ModelStatus}})
async def readyz(engine: Engine) -> JSONResponse:
    status = model_status(engine)
    return JSONResponse(status.model_dump(mode="json"), status_code=200 if status.model_ready else 503)

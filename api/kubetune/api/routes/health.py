"""Liveness and readiness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kubetune.api.deps import ContextDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    cache_synced: bool | None = None


@router.get("/healthz", response_model=Health, operation_id="healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, operation_id="readyz", responses={503: {"model": Health}})
async def readyz(ctx: ContextDep) -> Health | JSONResponse:
    if not ctx.cache.synced:
        return JSONResponse(Health(status="not ready", cache_synced=False).model_dump(), status_code=503)
    return Health(status="ready", cache_synced=True)

"""GET /api/v1/gpu: nodes' nvidia.com/gpu capacity and allocations, plus NVML readings from Trainings."""

from __future__ import annotations

from fastapi import APIRouter

from kubetune.api import access
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import gpu as g
from kubetune.api.schemas.platform import GpuStatus

router = APIRouter()


@router.get("/gpu", response_model=GpuStatus, operation_id="platform_gpu")
async def gpu_status(ctx: ContextDep, user: CurrentUser) -> GpuStatus:
    running = access.visible(ctx.cache, user, ctx.cache.trainings.in_phase("Running"))
    return g.gpu_status(ctx.cache.nodes.all(), ctx.cache.pods.all(), running)

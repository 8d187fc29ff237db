"""GET /api/v1/gpu: nodes' nvidia.com/gpu capacity, what every bound pod requests, NVML readings."""

from __future__ import annotations

from fastapi import APIRouter

from kubetune.api import access
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import gpu as g
from kubetune.api.schemas.platform import GpuStatus

router = APIRouter()


@router.get("/gpu", response_model=GpuStatus, operation_id="platform_gpu")
async def gpu_status(ctx: ContextDep, user: CurrentUser) -> GpuStatus:
    """Node totals are cluster-wide (counts only, no pod names); readings only from the caller's trainings."""
    running = access.visible(ctx.cache, user, ctx.cache.trainings.in_phase("Running"))
    return g.gpu_status(ctx.cache.nodes.all(), ctx.cache.gpu_pods.all(), running)

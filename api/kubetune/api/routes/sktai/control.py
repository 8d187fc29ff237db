"""POST .../start, .../stop, .../resume: spec.suspend and spec.resumeFrom, for the operator to act on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kubetune.api.cluster import TRAININGS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.routes.sktai.common import read, training
from kubetune.api.schemas.sktai import TrainingRead

router = APIRouter()


def control_patch(obj: Obj, action: str) -> dict[str, Any]:
    """The spec change for start/stop/resume/cancel, or ApiError(409) when it makes no sense now."""
    phase = meta.status(obj).get("phase") or "Pending"
    suspended = bool(meta.spec(obj).get("suspend"))
    if phase == "Succeeded":
        raise ApiError(409, f"cannot {action} a training that has succeeded")
    if action in ("stop", "cancel"):
        if phase == "Failed":
            raise ApiError(409, f"cannot {action} a training that has failed")
        return {"spec": {"suspend": True}}
    if not suspended and phase in ("Running", "Queued", "Pending"):
        raise ApiError(409, f"training is already {phase.lower()}")
    if action == "resume":
        return {"spec": {"suspend": False, "resumeFrom": {"checkpoint": "latest"}}}
    started = bool(meta.status(obj).get("startTime"))  # start again from scratch if it ever ran
    return {"spec": {"suspend": False, "resumeFrom": {"checkpoint": "none"} if started else None}}


async def apply_control(ctx: AppContext, obj: Obj, action: str) -> Obj:
    patch = control_patch(obj, action)
    return ctx.cache.remember(TRAININGS, await ctx.cluster.patch(
        TRAININGS, meta.name(obj), patch, meta.namespace(obj)))


@router.post("/trainings/{training_id}/start", response_model=TrainingRead, operation_id="sktai_start_training")
async def start(ctx: ContextDep, user: CurrentUser, training_id: str) -> TrainingRead:
    return read(ctx, await apply_control(ctx, training(ctx, user, training_id), "start"))


@router.post("/trainings/{training_id}/stop", response_model=TrainingRead, operation_id="sktai_stop_training")
async def stop(ctx: ContextDep, user: CurrentUser, training_id: str) -> TrainingRead:
    return read(ctx, await apply_control(ctx, training(ctx, user, training_id), "stop"))


@router.post("/trainings/{training_id}/resume", response_model=TrainingRead, operation_id="sktai_resume_training")
async def resume(ctx: ContextDep, user: CurrentUser, training_id: str) -> TrainingRead:
    return read(ctx, await apply_control(ctx, training(ctx, user, training_id), "resume"))

"""Seed 000: the SKTAI fine-tuning API (trainings, control, events, metrics, trainers)."""

from fastapi import APIRouter

from kubetune.api.core.errors import error_responses
from kubetune.api.routes.sktai import control, events, logs, metrics, trainers, trainings

router = APIRouter(prefix="/api/v1", tags=["sktai"], responses=error_responses("sktai", 401, 403, 404, 409, 422))
for module in (trainings, control, events, metrics, trainers, logs):
    router.include_router(module.router)

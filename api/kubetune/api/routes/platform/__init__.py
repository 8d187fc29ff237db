"""Seed 003: the AI Platform API."""

from fastapi import APIRouter

from kubetune.api.core.errors import error_responses
from kubetune.api.routes.platform import (
    auth,
    catalog,
    default_project,
    gpu,
    inference,
    loss,
    members,
    projects,
    settings,
    tasks,
    training,
)

router = APIRouter(prefix="/api/v1", tags=["platform"], responses=error_responses("platform", 401, 403, 404, 422))
for module in (auth, default_project, projects, members, tasks, catalog, gpu, loss, training, inference, settings):
    router.include_router(module.router)

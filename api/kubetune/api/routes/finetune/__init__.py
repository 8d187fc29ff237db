"""Seed 001: the fine-tune API under /api/finetune."""

from fastapi import APIRouter

from kubetune.api.core.errors import error_responses
from kubetune.api.routes.finetune import datasets, jobs, providers, scoped

router = APIRouter(prefix="/api/finetune", tags=["finetune"],
                   responses=error_responses("finetune", 400, 401, 403, 404, 409, 422))
for module in (providers, datasets, jobs, scoped):
    router.include_router(module.router)

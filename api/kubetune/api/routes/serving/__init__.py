"""The facade's own serving routes: a project's InferenceServices (platform family errors)."""

from fastapi import APIRouter

from kubetune.api.core.errors import error_responses
from kubetune.api.routes.serving import inference_services, logs

router = APIRouter(prefix="/api/v1", tags=["serving"],
                   responses=error_responses("platform", 401, 403, 404, 409, 422))
router.include_router(inference_services.router)
router.include_router(logs.router)

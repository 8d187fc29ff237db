"""GET /projects/{project_id}/inference-services/{name}/logs: a serving pod's log.

Under the project, like the other serving routes, so it cannot collide with the inference proxy's
/inference-services/{name}/{path}.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from kubetune.api import access, podlogs
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.crd.labels import INFERENCE_SERVICE

router = APIRouter(prefix="/projects/{project_id}/inference-services")


@router.get("/{name}/logs", operation_id="serving_inference_service_logs", response_class=StreamingResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "The log, streamed."}})
async def service_logs(ctx: ContextDep, user: CurrentUser, project_id: str, name: str, follow: podlogs.Follow = False,
                       previous: podlogs.Previous = False, tail: podlogs.Tail = None,
                       pod: podlogs.PodName = None) -> StreamingResponse:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    if ctx.cache.inference_services.get(name, meta.name(ns)) is None:
        raise ApiError(404, f"inference service {name!r} not found in this project")
    pods = await podlogs.list_pods(ctx.cluster, meta.name(ns), f"{INFERENCE_SERVICE}={name}")
    chosen = podlogs.pick_pod(pods, None, pod)
    return await podlogs.log_response(ctx.cluster, chosen, follow, previous, tail)

"""GET .../trainings/{id}/logs: the trainer pod's log, by node of a multi-node run, across restarts."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from kubetune.api import podlogs
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.routes.sktai.common import training
from kubetune.crd.labels import training_job_name

router = APIRouter()


@router.get("/trainings/{training_id}/logs", operation_id="sktai_training_logs", response_class=StreamingResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "The log, streamed."}})
async def training_logs(ctx: ContextDep, user: CurrentUser, training_id: str, follow: podlogs.Follow = False,
                        node: podlogs.Node = None, previous: podlogs.Previous = False,
                        tail: podlogs.Tail = None, pod: podlogs.PodName = None) -> StreamingResponse:
    obj = training(ctx, user, training_id)
    selector = f"job-name={training_job_name(meta.name(obj))}"
    pods = await podlogs.list_pods(ctx.cluster, meta.namespace(obj), selector)
    chosen = podlogs.pick_pod(pods, node, pod)
    return await podlogs.log_response(ctx.cluster, chosen, follow, previous, tail)

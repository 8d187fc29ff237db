"""GET /api/v1/tasks: Trainings and InferenceServices of the caller's projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kubetune.api import access
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping import platform as m
from kubetune.api.mapping.phases import INFERENCE_STATUS, phases_for
from kubetune.api.routes.platform.common import project_ids, window
from kubetune.api.schemas.platform import Status4, TaskList, TaskRead

router = APIRouter()


@router.get("/tasks", response_model=TaskList, operation_id="platform_list_tasks")
async def list_tasks(ctx: ContextDep, user: CurrentUser, status: Status4 | None = None,
                     skip: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     project_id: Annotated[int | None, Query(ge=1)] = None) -> TaskList:
    cache = ctx.cache
    if status is not None:  # the phase index answers the filter without a scan
        trainings = [o for phase in phases_for(status, "platform") for o in cache.trainings.in_phase(phase)]
        services = [o for o in cache.inference_services.all()
                    if INFERENCE_STATUS.get(meta.status(o).get("phase") or "", "pending") == status]
    else:
        trainings, services = cache.trainings.all(), cache.inference_services.all()
    if project_id is not None:
        ns = meta.name(access.project(cache, user, str(project_id), ctx.settings.project_namespace_prefix))
        trainings = [o for o in trainings if meta.namespace(o) == ns]
        services = [o for o in services if meta.namespace(o) == ns]
    ids = project_ids(ctx)
    tasks: list[TaskRead] = [m.task_from_training(o, ids) for o in access.visible(cache, user, trainings)]
    tasks += [m.task_from_inference(o, ids) for o in access.visible(cache, user, services)]
    tasks.sort(key=lambda t: (t.created_at, t.id), reverse=True)
    return TaskList(total=len(tasks), tasks=window(tasks, skip, limit))

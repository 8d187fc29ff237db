"""GET/POST /api/v1/trainings, GET/PUT/DELETE /api/v1/trainings/{training_id}, GET .../status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from kubetune.api import access
from kubetune.api.cluster import TRAININGS
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta, query
from kubetune.api.mapping import sktai as m
from kubetune.api.mapping.meta import is_number
from kubetune.api.mapping.phases import phases_for
from kubetune.api.mapping.training_spec import TrainingRequest, hyperparameters
from kubetune.api.routes.sktai.common import Filter, Page, Search, Size, Sort, project_key_of, read, training
from kubetune.api.schemas.sktai import TrainingCreate, TrainingRead, TrainingsRead, TrainingStatusRead, TrainingUpdate
from kubetune.api.storage.keys import safe_key
from kubetune.api.submit import create_training, serve_flag
from kubetune.crd import labels as lbl

router = APIRouter()


@router.get("/trainings", response_model=TrainingsRead, operation_id="sktai_list_trainings")
async def list_trainings(ctx: ContextDep, user: CurrentUser, page: Page = 1, size: Size = 10, sort: Sort = None,
                         filter: Filter = None, search: Search = None) -> TrainingsRead:
    sort_keys = query.parse_sort(sort, m.TRAINING_SORT)
    filters = query.parse_filter(filter, m.TRAINING_FILTER)
    cache = ctx.cache
    statuses = {s.lower() for s in filters.get("status", ())}
    if statuses:  # the phase index answers the status filter; "" holds the unreconciled ones
        phases = {phase for word in statuses for phase in phases_for(word, "sktai")}
        objs = [o for phase in phases for o in cache.trainings.in_phase(phase)]
        filters = {k: v for k, v in filters.items() if k != "status"}
    elif "task_id" in filters:  # task values are case-sensitive labels; the index answers exactly
        objs = [o for task in filters.pop("task_id") for o in cache.trainings.in_task(task)]
    else:
        objs = cache.trainings.all()
    objs = access.visible(cache, user, objs)
    getters = m.training_getters(lambda ns: project_key_of(ctx, ns))
    result = query.apply(objs, getters, page, size, sort_keys, filters, search)
    return TrainingsRead(data=[read(ctx, o) for o in result.items], pagination=m.pagination(result))


@router.post("/trainings", response_model=TrainingRead, status_code=201, operation_id="sktai_create_training")
async def create(ctx: ContextDep, user: CurrentUser, body: TrainingCreate) -> TrainingRead:
    ns = access.default_project(ctx.cache, user, body.project_id, ctx.settings.project_namespace_prefix)
    dataset_ref, dataset_uri = None, None
    if body.dataset_id:
        ds = ctx.cache.datasets.by_uid(body.dataset_id) or (
            ctx.cache.datasets.by_id(int(body.dataset_id)) if is_number(body.dataset_id) else None
        ) or ctx.cache.datasets.get(body.dataset_id, meta.name(ns))
        if ds is None or meta.namespace(ds) != meta.name(ns):
            raise ApiError(404, f"dataset {body.dataset_id!r} not found in the project")
        dataset_ref = meta.name(ds)
    elif body.dataset_path:
        dataset_uri = ctx.storage.uri(meta.name(ns), safe_key(body.dataset_path))
    else:
        raise ApiError(422, "dataset_id or dataset_path is required")
    req = TrainingRequest(
        namespace="", name="", trainer=body.trainer_id or ctx.settings.default_trainer, base_model=body.base_model,
        source_api="sktai", owner="", dataset_ref=dataset_ref, dataset_uri=dataset_uri,
        dataset_format=body.dataset_format, data_strategy=body.data_strategy, system_message=body.system_message,
        thinking_instructions=body.thinking_instructions, params=body.params, method=body.method, task=body.task,
        task_label=body.task_id, display_name=body.name, description=body.description,
        serve=serve_flag(ctx, body.serve), hpo=body.hpo,
        resources={k: v for k, v in body.resource.model_dump(exclude_none=True).items()} if body.resource else None)
    trainer = ctx.cache.trainers.by_uid(req.trainer)
    if trainer is not None:
        req.trainer = meta.name(trainer)
    if req.resources and "gpu_type" in req.resources:
        req.resources["gpuType"] = req.resources.pop("gpu_type")
    return read(ctx, await create_training(ctx, user, ns, req))


@router.get("/trainings/{training_id}", response_model=TrainingRead, operation_id="sktai_get_training")
async def get(ctx: ContextDep, user: CurrentUser, training_id: str) -> TrainingRead:
    return read(ctx, training(ctx, user, training_id))


@router.put("/trainings/{training_id}", response_model=TrainingRead, operation_id="sktai_update_training")
async def update(ctx: ContextDep, user: CurrentUser, training_id: str, body: TrainingUpdate) -> TrainingRead:
    obj = training(ctx, user, training_id)
    changes = body.model_dump(exclude_unset=True)
    spec: dict[str, Any] = {}
    if "name" in changes:
        spec["displayName"] = changes["name"]
    if "description" in changes:
        spec["description"] = changes["description"]
    if changes.get("params") is not None:
        spec["hyperparameters"] = hyperparameters(changes["params"])
    if "resource" in changes:
        res = changes["resource"] or None
        spec["resources"] = {("gpuType" if k == "gpu_type" else k): v for k, v in res.items()} if res else None
    if changes.get("serve") is not None:
        spec["serve"] = {"enabled": changes["serve"]}
    patch: dict[str, Any] = {"spec": spec} if spec else {}
    if "task_id" in changes:
        patch["metadata"] = {"labels": {lbl.TASK: changes["task_id"]}}
    if patch:
        obj = ctx.cache.remember(TRAININGS, await ctx.cluster.patch(
            TRAININGS, meta.name(obj), patch, meta.namespace(obj)))
    return read(ctx, obj)


@router.delete("/trainings/{training_id}", status_code=204, response_class=Response,
               operation_id="sktai_delete_training")
async def delete(ctx: ContextDep, user: CurrentUser, training_id: str) -> Response:
    obj = training(ctx, user, training_id)
    await ctx.cluster.delete(TRAININGS, meta.name(obj), meta.namespace(obj))
    ctx.cache.forget(TRAININGS, obj)
    return Response(status_code=204)


@router.get("/trainings/{training_id}/status", response_model=TrainingStatusRead,
            operation_id="sktai_get_training_status")
async def status(ctx: ContextDep, user: CurrentUser, training_id: str) -> TrainingStatusRead:
    return m.training_status_read(training(ctx, user, training_id))

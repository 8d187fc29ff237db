"""Jobs and dataset splits under /projects/{project_id}/tasks/{task_id} (task = kubetune.io/task label)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from kubetune.api import access
from kubetune.api.cluster import DATASETS
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import finetune as m
from kubetune.api.mapping import meta
from kubetune.api.routes.finetune.jobs import UpdateStatus, find_job, submit, to_job
from kubetune.api.routes.sktai.control import apply_control
from kubetune.api.schemas.finetune import (
    DatasetSplitCreate,
    DatasetSplitResponse,
    DatasetSplits,
    JobCreate,
    JobResponse,
    JobsResponse,
)
from kubetune.crd import labels as lbl

router = APIRouter(prefix="/projects/{project_id}/tasks/{task_id}")
TaskId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]


@router.get("/finetunes", response_model=JobsResponse, operation_id="finetune_list_task_finetunes")
async def list_finetunes(ctx: ContextDep, user: CurrentUser, project_id: str, task_id: TaskId,
                         update_status: UpdateStatus = False) -> JobsResponse:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    objs = [o for o in ctx.cache.trainings.in_task(task_id) if meta.namespace(o) == meta.name(ns)]
    return JobsResponse(jobs=[to_job(ctx, o) for o in sorted(objs, key=meta.created, reverse=True)])


@router.post("/finetunes", response_model=JobResponse, status_code=201, operation_id="finetune_create_task_finetune")
async def create_finetune(ctx: ContextDep, user: CurrentUser, project_id: str, task_id: TaskId,
                          body: JobCreate) -> JobResponse:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    return JobResponse(job=await submit(ctx, user, body, ns, task_id))


@router.get("/finetunes/{finetune_id}", response_model=JobResponse, operation_id="finetune_get_task_finetune")
async def get_finetune(ctx: ContextDep, user: CurrentUser, project_id: str, task_id: TaskId,
                       finetune_id: str) -> JobResponse:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    obj = find_job(ctx, user, finetune_id, meta.name(ns))
    if meta.labels(obj).get(lbl.TASK) != task_id:
        raise ApiError(404, f"finetune {finetune_id!r} not found in task {task_id!r}")
    return JobResponse(job=to_job(ctx, obj))


@router.post("/finetunes/{finetune_id}/cancel", response_model=JobResponse,
             operation_id="finetune_cancel_task_finetune")
async def cancel_finetune(ctx: ContextDep, user: CurrentUser, project_id: str, task_id: TaskId,
                          finetune_id: str) -> JobResponse:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    obj = find_job(ctx, user, finetune_id, meta.name(ns))
    if meta.labels(obj).get(lbl.TASK) != task_id:
        raise ApiError(404, f"finetune {finetune_id!r} not found in task {task_id!r}")
    return JobResponse(job=to_job(ctx, await apply_control(ctx, obj, "cancel")))


@router.get("/dataset_splits", response_model=DatasetSplits, operation_id="finetune_list_dataset_splits")
async def list_splits(ctx: ContextDep, user: CurrentUser, project_id: str, task_id: TaskId) -> DatasetSplits:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    datasets = [d for d in ctx.cache.datasets.in_project(meta.name(ns)) if meta.labels(d).get(lbl.TASK) == task_id]
    out = [m.dataset_split(d, s) for d in sorted(datasets, key=meta.created)
           for s in meta.spec(d).get("splits") or []]
    return DatasetSplits(dataset_splits=out)


@router.post("/dataset_splits", response_model=DatasetSplitResponse, status_code=201,
             operation_id="finetune_create_dataset_split")
async def create_split(ctx: ContextDep, user: CurrentUser, project_id: str, task_id: TaskId,
                       body: DatasetSplitCreate) -> DatasetSplitResponse:
    """Records the split definition on the Dataset (and tags it with the task); the operator counts rows."""
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    ds = ctx.cache.datasets.by_uid(body.dataset_id) or ctx.cache.datasets.get(body.dataset_id, meta.name(ns))
    if ds is None or meta.namespace(ds) != meta.name(ns):
        raise ApiError(404, f"dataset {body.dataset_id!r} not found in project {project_id!r}")
    splits = [s for s in meta.spec(ds).get("splits") or [] if s.get("name") != body.split_type]
    if len(splits) >= 8:
        raise ApiError(409, "a dataset keeps at most 8 split definitions")
    splits.append({"name": body.split_type, "seed": body.seed})
    patch = {"spec": {"splits": splits}, "metadata": {"labels": {lbl.TASK: task_id}}}
    updated = ctx.cache.remember(DATASETS, await ctx.cluster.patch(DATASETS, meta.name(ds), patch, meta.name(ns)))
    return DatasetSplitResponse(dataset_split=m.dataset_split(updated, splits[-1]))

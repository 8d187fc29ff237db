"""POST/GET /jobs, GET /jobs/{job_id}, POST /jobs/{job_id}/cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kubetune.api import access
from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.datasets import dataset_for_key
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import finetune as m
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.training_spec import TrainingRequest
from kubetune.api.routes.finetune.providers import resolve_provider
from kubetune.api.routes.sktai.control import apply_control
from kubetune.api.schemas.finetune import Job, JobCreate, JobResponse, JobsResponse
from kubetune.api.storage.keys import safe_key
from kubetune.api.submit import create_training, serve_flag

router = APIRouter()
UpdateStatus = Annotated[bool, Query(description="Accepted for compatibility: statuses are always live.")]


def to_job(ctx: AppContext, obj: Obj) -> Job:
    ns = ctx.cache.namespaces.get(meta.namespace(obj))
    ref = (meta.spec(obj).get("dataset") or {}).get("ref")
    ds = ctx.cache.datasets.get(ref["name"], meta.namespace(obj)) if ref else None
    return m.job(obj, access.project_key(ns) if ns else meta.namespace(obj), m.dataset_key(ds))


def find_job(ctx: AppContext, user: Principal, job_id: str, namespace: str | None = None) -> Obj:
    obj = ctx.cache.trainings.by_uid(job_id) or (ctx.cache.trainings.get(job_id, namespace) if namespace else None)
    if obj is None or (namespace and meta.namespace(obj) != namespace):
        raise ApiError(404, f"job {job_id!r} not found")
    access.check_namespace(ctx.cache, user, meta.namespace(obj))
    return obj


async def submit(ctx: AppContext, user: Principal, body: JobCreate, ns: Obj, task_id: str | None) -> Job:
    trainer = resolve_provider(ctx, body.provider)
    namespace = meta.name(ns)
    dataset_ref, dataset_uri, ds = None, None, None
    if body.dataset_id:
        ds = ctx.cache.datasets.by_uid(body.dataset_id) or ctx.cache.datasets.get(body.dataset_id, namespace)
        if ds is None or meta.namespace(ds) != namespace:
            raise ApiError(404, f"dataset {body.dataset_id!r} not found in the project")
    elif body.dataset_path:
        key = safe_key(body.dataset_path)
        ds = dataset_for_key(ctx, namespace, key)
        dataset_uri = None if ds else ctx.storage.uri(namespace, key)
    else:
        raise ApiError(422, "dataset_path or dataset_id is required")
    if ds is not None:
        dataset_ref = meta.name(ds)
    req = TrainingRequest(
        namespace="", name="", trainer=meta.name(trainer), base_model=body.model_name, source_api="finetune",
        owner="", dataset_ref=dataset_ref, dataset_uri=dataset_uri, dataset_format=body.format_type,
        train_split=body.train_split_name, validation_split=body.validation_split_name,
        data_strategy=body.data_strategy, system_message=body.system_message,
        thinking_instructions=body.thinking_instructions, params=body.parameters, task_label=task_id,
        display_name=body.name, description=body.description, serve=serve_flag(ctx, body.serve))
    return to_job(ctx, await create_training(ctx, user, ns, req))


@router.post("/jobs", response_model=JobResponse, status_code=201, operation_id="finetune_create_job")
async def create_job(ctx: ContextDep, user: CurrentUser, body: JobCreate) -> JobResponse:
    ns = access.default_project(ctx.cache, user, body.project_id, ctx.settings.project_namespace_prefix)
    return JobResponse(job=await submit(ctx, user, body, ns, body.task_id))


@router.get("/jobs", response_model=JobsResponse, operation_id="finetune_list_jobs")
async def list_jobs(ctx: ContextDep, user: CurrentUser, update_status: UpdateStatus = False) -> JobsResponse:
    objs = sorted(access.visible(ctx.cache, user, ctx.cache.trainings.all()), key=meta.created, reverse=True)
    return JobsResponse(jobs=[to_job(ctx, o) for o in objs])


@router.get("/jobs/{job_id}", response_model=JobResponse, operation_id="finetune_get_job")
async def get_job(ctx: ContextDep, user: CurrentUser, job_id: str) -> JobResponse:
    return JobResponse(job=to_job(ctx, find_job(ctx, user, job_id)))


@router.post("/jobs/{job_id}/cancel", response_model=JobResponse, operation_id="finetune_cancel_job")
async def cancel_job(ctx: ContextDep, user: CurrentUser, job_id: str) -> JobResponse:
    obj = await apply_control(ctx, find_job(ctx, user, job_id), "cancel")
    return JobResponse(job=to_job(ctx, obj))

"""/api/v1/projects/{project_id}/inference-services: list, create, read, scale, suspend, resume, delete.

Every InferenceService in the project's namespace is listed and managed here, whether it was created
through these routes, by train -> serve, or with kubectl; each answers at its `inference_url` (seed
002's routes) and `openai_base_url` (its OpenAI routes) through the facade.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from kubetune.api import access
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import INFERENCE_SERVICES
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.serving import (
    InferenceServiceCreate,
    InferenceServiceList,
    InferenceServiceRead,
    ScaleRequest,
)
from kubetune.api.serving import manage

router = APIRouter(prefix="/projects/{project_id}/inference-services")


def _project(ctx: AppContext, user: Principal, project_id: str) -> Obj:
    return access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)


def _service(ctx: AppContext, ns: Obj, name: str) -> Obj:
    found = ctx.cache.inference_services.get(name, meta.name(ns))
    if found is None:
        raise ApiError(404, f"inference service {name!r} not found in this project")
    return found


async def _patch_spec(ctx: AppContext, isvc: Obj, spec: Obj) -> InferenceServiceRead:
    updated = await ctx.cluster.patch(INFERENCE_SERVICES, meta.name(isvc), {"spec": spec}, meta.namespace(isvc))
    return manage.read(ctx, ctx.cache.remember(INFERENCE_SERVICES, updated))


@router.get("", response_model=InferenceServiceList, operation_id="serving_list_inference_services")
async def list_services(ctx: ContextDep, user: CurrentUser, project_id: str) -> InferenceServiceList:
    ns = _project(ctx, user, project_id)
    items = sorted(ctx.cache.inference_services.in_project(meta.name(ns)), key=meta.name)
    return InferenceServiceList(items=[manage.read(ctx, i) for i in items], total=len(items))


@router.post("", response_model=InferenceServiceRead, status_code=201,
             operation_id="serving_create_inference_service")
async def create_service(ctx: ContextDep, user: CurrentUser, project_id: str,
                         body: InferenceServiceCreate) -> InferenceServiceRead:
    ns = _project(ctx, user, project_id)
    spec = manage.build_spec(ctx, ns, body)
    created = await ctx.cluster.create(INFERENCE_SERVICES, manage.manifest(ns, body, spec, user.username),
                                       meta.name(ns))
    return manage.read(ctx, ctx.cache.remember(INFERENCE_SERVICES, created))


@router.get("/{name}", response_model=InferenceServiceRead, operation_id="serving_get_inference_service")
async def get_service(ctx: ContextDep, user: CurrentUser, project_id: str, name: str) -> InferenceServiceRead:
    return manage.read(ctx, _service(ctx, _project(ctx, user, project_id), name))


@router.post("/{name}/scale", response_model=InferenceServiceRead, operation_id="serving_scale_inference_service")
async def scale_service(ctx: ContextDep, user: CurrentUser, project_id: str, name: str,
                        body: ScaleRequest) -> InferenceServiceRead:
    isvc = _service(ctx, _project(ctx, user, project_id), name)
    return await _patch_spec(ctx, isvc, manage.scaled_spec(isvc, body.replicas, body.min_replicas,
                                                           body.max_replicas))


@router.post("/{name}/suspend", response_model=InferenceServiceRead,
             operation_id="serving_suspend_inference_service")
async def suspend_service(ctx: ContextDep, user: CurrentUser, project_id: str, name: str) -> InferenceServiceRead:
    """Scale to zero and keep the spec (phase Stopped); requests are refused until resumed."""
    return await _patch_spec(ctx, _service(ctx, _project(ctx, user, project_id), name), {"suspend": True})


@router.post("/{name}/resume", response_model=InferenceServiceRead,
             operation_id="serving_resume_inference_service")
async def resume_service(ctx: ContextDep, user: CurrentUser, project_id: str, name: str) -> InferenceServiceRead:
    return await _patch_spec(ctx, _service(ctx, _project(ctx, user, project_id), name), {"suspend": False})


@router.delete("/{name}", status_code=204, response_class=Response,
               operation_id="serving_delete_inference_service")
async def delete_service(ctx: ContextDep, user: CurrentUser, project_id: str, name: str) -> Response:
    isvc = _service(ctx, _project(ctx, user, project_id), name)
    await ctx.cluster.delete(INFERENCE_SERVICES, meta.name(isvc), meta.namespace(isvc))
    ctx.cache.forget(INFERENCE_SERVICES, isvc)
    return Response(status_code=204)

"""GET /api/v1/inference/models and POST /api/v1/inference/generate, on InferenceServices."""

from __future__ import annotations

from fastapi import APIRouter

from kubetune.api import access
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.inference import call_server, find_service
from kubetune.api.mapping import meta
from kubetune.api.mapping import platform as m
from kubetune.api.schemas.platform import GenerateRequest, GenerateResponse, InferenceModels

router = APIRouter()


@router.get("/inference/models", response_model=InferenceModels, operation_id="platform_inference_models")
async def inference_models(ctx: ContextDep, user: CurrentUser) -> InferenceModels:
    services = access.visible(ctx.cache, user, ctx.cache.inference_services.all())
    out = []
    for isvc in sorted(services, key=lambda o: (meta.namespace(o), meta.name(o))):
        ns = ctx.cache.namespaces.get(meta.namespace(isvc))
        out.append(m.inference_model(isvc, access.project_key(ns) if ns else meta.namespace(isvc)))
    return InferenceModels(models=out)


@router.post("/inference/generate", response_model=GenerateResponse, operation_id="platform_generate")
async def generate(ctx: ContextDep, user: CurrentUser, body: GenerateRequest) -> GenerateResponse:
    isvc = find_service(ctx, user, body.model_id)
    payload = body.model_dump()
    payload["model_id"] = None  # the server's default model is the one this service serves
    data = await call_server(ctx, isvc, "POST", "/generate", payload)
    data["model"] = body.model_id
    return GenerateResponse.model_validate(data)

"""The model gateway: GET /v1/models, POST /v1/chat/completions and /v1/completions, routed by `model`.

`model` names what the project serves:
- `ft:<base>:<project>:<suffix>:<job>`: the InferenceService serving that job's output (jobs made here
  are served when they succeed);
- `ft:...:<job>:ckpt-step-<N>`: a listed checkpoint. The first request creates an InferenceService for
  it (`baseModel: training://<job>/checkpoints/<N>`, owned by the Training) and is answered 503
  until it is Ready;
- an InferenceService's name (`name` or `project/name`), or a base model an InferenceService of the
  project serves without adapters.
The request goes to that server's OpenAI-compatible route with `model` set to what the server calls
it; the answer (a JSON body or an SSE stream) is passed through unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from kubernetes.client import ApiException
from starlette.background import BackgroundTask

from kubetune.api import access
from kubetune.api.access import project_key
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import INFERENCE_SERVICES
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.inference import server_headers, server_url
from kubetune.api.mapping import meta
from kubetune.api.mapping import openai_names as names
from kubetune.api.mapping.meta import Obj
from kubetune.api.routes.openai.common import ProjectHeader, invalid, project
from kubetune.api.schemas.openai import Model, ModelList
from kubetune.api.serving.wake import ensure_awake
from kubetune.crd import labels as lbl
from kubetune.crd.kinds import INFERENCE_SERVICE

router = APIRouter()
CHECKPOINT_STEP = f"{names.PREFIX}/checkpoint-step"  # on checkpoint InferenceServices
PASSED_HEADERS = {"content-type", "cache-control", "x-request-id"}
COMPLETION_BODY = {"content": {"application/json": {"schema": {"type": "object"}},
                               "text/event-stream": {"schema": {"type": "string"}}},
                   "description": "The serving engine's answer, passed through (SSE when `stream` is true)."}


def not_found(model: str) -> ApiError:
    return invalid(f"The model `{model}` does not exist or you do not have access to it.", "model",
                   code="model_not_found", status=404)


def _serves_training(isvc: Obj) -> str | None:
    return (meta.spec(isvc).get("trainingRef") or {}).get("name")


def model_ids(ctx: AppContext, ns: Obj) -> list[tuple[str, Obj]]:
    """Every model id of the project with the InferenceService that serves it."""
    key = project_key(ns)
    out = []
    for isvc in ctx.cache.inference_services.in_project(meta.name(ns)):
        training_name = _serves_training(isvc) or meta.labels(isvc).get(lbl.TRAINING)
        training = ctx.cache.trainings.get(training_name, meta.name(ns)) if training_name else None
        step = meta.annotations_of(isvc).get(CHECKPOINT_STEP)
        if training is not None and step:
            out.append((names.checkpoint_model(names.training_model_name(training, key), int(step)), isvc))
        elif training is not None:
            out.append((names.training_model_name(training, key), isvc))
        else:
            out.append((meta.name(isvc), isvc))
            model = meta.spec(isvc).get("model") or {}
            base = str(model.get("baseModel") or "")
            if base and not model.get("adapters") and not base.startswith("training://"):
                out.append((names.base_name(base), isvc))  # the base model it serves, by its own name
    return out


def _checkpoint_service(ctx: AppContext, training: Obj, step: int) -> dict[str, Any]:
    name = meta.object_name(meta.name(training), f"ckpt-{step}")
    manifest = INFERENCE_SERVICE.manifest(name, {
        "model": {"baseModel": f"training://{meta.name(training)}/checkpoints/{step}"},
        "task": meta.spec(training).get("task") or "causal-lm"}, meta.namespace(training),
        labels={lbl.TRAINING: meta.name(training), **{k: v for k, v in meta.labels(training).items()
                                                      if k == lbl.PROJECT}})
    manifest["metadata"]["annotations"] = {CHECKPOINT_STEP: str(step), lbl.SOURCE_API: names.SOURCE_API}
    manifest["metadata"]["ownerReferences"] = [{
        "apiVersion": training.get("apiVersion"), "kind": training.get("kind"), "name": meta.name(training),
        "uid": meta.uid(training), "blockOwnerDeletion": False}]
    return manifest


async def _serve_checkpoint(ctx: AppContext, training: Obj, step: int, model: str) -> Obj:
    """Create the checkpoint's InferenceService (as the caller); it answers once Ready."""
    steps = {int(c.get("step") or -1) for c in meta.status(training).get("checkpoints") or []}
    if step not in steps:
        raise not_found(model)
    manifest = _checkpoint_service(ctx, training, step)
    try:
        created = await ctx.cluster.create(INFERENCE_SERVICES, manifest, meta.namespace(training))
    except ApiException as exc:
        if exc.status == 422:  # this platform's InferenceServices cannot load checkpoints (yet)
            raise invalid(f"checkpoint models cannot be served here: {exc.reason}", "model", status=400) from exc
        if exc.status != 409:
            raise
        return manifest
    return ctx.cache.remember(INFERENCE_SERVICES, created)


async def resolve(ctx: AppContext, user: Principal, header: str | None, model: str) -> Obj:
    wanted = names.parse_fine_tuned(model)
    if wanted is not None:
        ns = access.find_project(ctx.cache, wanted.project, ctx.settings.project_namespace_prefix)
        if ns is None or not user.can_access(ns):
            raise not_found(model)
    else:
        ns = project(ctx, user, header)
        if "/" in model:
            ref, _, rest = model.partition("/")
            other = access.find_project(ctx.cache, ref, ctx.settings.project_namespace_prefix)
            if other is not None and user.can_access(other):
                ns, model = other, rest
    found = dict(sorted(model_ids(ctx, ns), key=lambda item: meta.name(item[1]), reverse=True))
    if model in found:  # (a base model several services serve: the first by name)
        return found[model]
    if wanted is None and (isvc := ctx.cache.inference_services.get(model, meta.name(ns))) is not None:
        return isvc  # an InferenceService by its own name, also one listed under its fine-tuned model's id
    if wanted is not None and wanted.step is not None:
        training = ctx.cache.trainings.get(wanted.job, meta.name(ns))
        if training is None or names.training_model_name(training, project_key(ns)) != model.rsplit(":", 1)[0]:
            raise not_found(model)
        await _serve_checkpoint(ctx, training, wanted.step, model)
        raise ApiError(503, f"model {model} is being loaded: retry shortly", code="model_loading",
                       headers={"Retry-After": "10"})
    raise not_found(model)


@router.get("/models", response_model=ModelList, operation_id="openai_list_models")
async def list_models(ctx: ContextDep, user: CurrentUser, openai_project: ProjectHeader = None) -> ModelList:
    """The project's served models: fine-tuned models, checkpoints being served, InferenceServices."""
    ns = project(ctx, user, openai_project)
    found = dict(sorted(model_ids(ctx, ns), key=lambda item: meta.name(item[1]), reverse=True))
    return ModelList(data=[Model(id=mid, created=int(meta.created(isvc).timestamp()), owned_by=project_key(ns))
                           for mid, isvc in sorted(found.items())])


async def forward(request: Request, ctx: AppContext, user: Principal, header: str | None,
                  path: str) -> StreamingResponse:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise invalid("the body is not valid JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid("you must provide a model parameter", "model")
    isvc = await ensure_awake(ctx, await resolve(ctx, user, header, body["model"]))  # scale from zero
    body["model"] = ""  # the server's own default: the one adapter (or model) this service serves
    upstream_request = ctx.http.build_request(
        "POST", f"{server_url(ctx, isvc)}{path}", content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **server_headers(ctx, isvc)})
    try:
        upstream = await ctx.http.send(upstream_request, stream=True)
    except httpx.HTTPError as exc:
        raise ApiError(502, f"the model server is unreachable: {type(exc).__name__}") from exc
    passed = {k: v for k, v in upstream.headers.items() if k.lower() in PASSED_HEADERS}
    return StreamingResponse(upstream.aiter_bytes(), status_code=upstream.status_code, headers=passed,
                             background=BackgroundTask(upstream.aclose))


@router.post("/chat/completions", operation_id="openai_chat_completions", response_class=StreamingResponse,
             responses={200: COMPLETION_BODY},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["model", "messages"], "additionalProperties": True}}}}})
async def chat_completions(request: Request, ctx: ContextDep, user: CurrentUser,
                           openai_project: ProjectHeader = None) -> StreamingResponse:
    return await forward(request, ctx, user, openai_project, "/v1/chat/completions")


@router.post("/completions", operation_id="openai_completions", response_class=StreamingResponse,
             responses={200: COMPLETION_BODY},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["model", "prompt"], "additionalProperties": True}}}}})
async def completions(request: Request, ctx: ContextDep, user: CurrentUser,
                      openai_project: ProjectHeader = None) -> StreamingResponse:
    return await forward(request, ctx, user, openai_project, "/v1/completions")

"""POST /api/v1/training/submit: a Training from a catalog model, a Dataset and a template (Trainer)."""

from __future__ import annotations

from fastapi import APIRouter

from kubetune.api import access
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping.phases import training_status
from kubetune.api.mapping.training_spec import TrainingRequest
from kubetune.api.schemas.platform import SubmitRequest, SubmitResponse
from kubetune.api.submit import create_training, serve_flag

router = APIRouter()


@router.post("/training/submit", response_model=SubmitResponse, status_code=201,
             operation_id="platform_submit_training")
async def submit(ctx: ContextDep, user: CurrentUser, body: SubmitRequest) -> SubmitResponse:
    ns = access.project(ctx.cache, user, str(body.project_id), ctx.settings.project_namespace_prefix)
    dataset = ctx.cache.datasets.by_id(body.dataset_id)
    if dataset is None or meta.namespace(dataset) != meta.name(ns):
        raise ApiError(404, f"dataset {body.dataset_id} not found in project {body.project_id}")
    template = ctx.cache.trainers.get(body.template_id)
    method = None
    if template is None:  # a method name ("lora") picks the default trainer with that method
        template = ctx.cache.trainers.get(ctx.settings.default_trainer)
        method = body.template_id
        if template is None:
            raise ApiError(404, f"template {body.template_id!r} not found")
    req = TrainingRequest(
        namespace="", name="", trainer=meta.name(template), base_model=body.model_id, source_api="platform",
        owner="", dataset_ref=meta.name(dataset), params=body.hyperparameters, method=method,
        display_name=body.experiment_name, serve=serve_flag(ctx, body.serve))
    training = await create_training(ctx, user, ns, req)
    return SubmitResponse(
        id=meta.numeric_id(training), name=meta.name(training), experiment_name=body.experiment_name,
        project_id=meta.numeric_id(ns), status=training_status(training, "platform"),
        created_at=meta.created(training), message="training submitted")

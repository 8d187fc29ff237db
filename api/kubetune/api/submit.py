"""Creating Trainings on behalf of any family: naming, ids, trainer checks, the serve default."""

from __future__ import annotations

import uuid
from typing import Any

from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import TRAININGS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.training_spec import TrainingRequest, base_model_ref, build_training
from kubetune.api.storage.references import check_data_file, check_reference, check_split
from kubetune.crd import labels as lbl


def trainer(ctx: AppContext, name: str) -> Obj:
    found = ctx.cache.trainers.get(name)
    if found is None:
        raise ApiError(404, f"trainer {name!r} not found")
    return found


def catalog_ids(trainer_obj: Obj) -> set[str]:
    return {m.get("id", "") for m in meta.spec(trainer_obj).get("models") or []}


def check_params(trainer_obj: Obj, params: dict[str, Any]) -> None:
    """Bounds and choices the Trainer declares; unknown names are left to the typed model."""
    for definition in meta.spec(trainer_obj).get("parameters") or []:
        value = params.get(definition.get("name"))
        if value is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = definition.get("minimum"), definition.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ApiError(422, f"{definition['name']}={value} is outside [{low}, {high}]")
        choices = definition.get("choices")
        if choices and isinstance(value, str) and value not in choices:
            raise ApiError(422, f"{definition['name']} must be one of {', '.join(choices)}")


def method_for(trainer_obj: Obj, wanted: str | None) -> str | None:
    methods = meta.spec(trainer_obj).get("methods") or []
    if wanted:
        if wanted not in methods:
            raise ApiError(422, f"trainer {meta.name(trainer_obj)!r} does not support method {wanted!r}")
        return wanted
    return methods[0] if methods else None


async def create_training(ctx: AppContext, user: Principal, project_ns: Obj, req: TrainingRequest) -> Obj:
    """Fill in what every family shares, then create. The serve default applies when the caller left it."""
    trainer_obj = trainer(ctx, req.trainer)
    check_params(trainer_obj, req.params)
    req.base_model = base_model_ref(req.base_model, catalog_ids(trainer_obj))
    req.namespace = meta.name(project_ns)
    check_request_references(ctx, req, trainer_obj)
    req.method = method_for(trainer_obj, req.method)
    req.project_label = meta.labels(project_ns).get(lbl.PROJECT)
    req.owner = user.username
    req.numeric_id = await ctx.ids.allocate()
    if not req.name:
        req.name = meta.object_name(req.display_name or "training", uuid.uuid4().hex[:8])
    body = build_training(req)
    return ctx.cache.remember(TRAININGS, await ctx.cluster.create(TRAININGS, body, req.namespace))


def check_request_references(ctx: AppContext, req: TrainingRequest, trainer_obj: Obj) -> None:
    """Every uri and name the client gave, inside its project (kubetune.crd.references): a 400 otherwise."""
    catalog = {m.get("uri", "") for m in meta.spec(trainer_obj).get("models") or []}
    if "://" in req.base_model:
        check_reference(ctx.storage, req.namespace, req.base_model, "base_model", catalog)
    if req.dataset_uri:
        check_reference(ctx.storage, req.namespace, req.dataset_uri, "dataset_path")
        check_data_file(ctx.storage, req.namespace, req.dataset_uri, "dataset_path")
    check_split(req.train_split, "train_split_name")
    check_split(req.validation_split, "validation_split_name")


def serve_flag(ctx: AppContext, requested: bool | None) -> bool:
    return ctx.settings.serve_by_default if requested is None else requested

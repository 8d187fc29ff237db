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
    if req.base_model.startswith("file://") and not ctx.storage.owns(req.base_model):
        # A local path would let a client point the trainer at any file on its node.
        raise ApiError(400, "a file:// base model must live in the artifact store; use a catalog id or hf://")
    req.method = method_for(trainer_obj, req.method)
    req.namespace = meta.name(project_ns)
    req.project_label = meta.labels(project_ns).get(lbl.PROJECT)
    req.owner = user.username
    req.numeric_id = await ctx.ids.allocate()
    if not req.name:
        req.name = meta.object_name(req.display_name or "training", uuid.uuid4().hex[:8])
    body = build_training(req)
    return ctx.cache.remember(TRAININGS, await ctx.cluster.create(TRAININGS, body, req.namespace))


def serve_flag(ctx: AppContext, requested: bool | None) -> bool:
    return ctx.settings.serve_by_default if requested is None else requested

"""Datasets, models, training models and templates (seed 003)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kubetune.api import access
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping import platform as m
from kubetune.api.routes.platform.common import project_ids, window
from kubetune.api.schemas.platform import DatasetList, ModelList, Templates, TrainingModels

router = APIRouter()
Skip = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/datasets", response_model=DatasetList, operation_id="platform_list_datasets")
async def list_datasets(ctx: ContextDep, user: CurrentUser, skip: Skip = 0, limit: Limit = 100,
                        project_id: Annotated[int | None, Query(ge=1)] = None) -> DatasetList:
    objs = ctx.cache.datasets.all()
    if project_id is not None:
        ns = access.project(ctx.cache, user, str(project_id), ctx.settings.project_namespace_prefix)
        objs = ctx.cache.datasets.in_project(meta.name(ns))
    ids = project_ids(ctx)
    items = sorted((m.dataset(o, ids) for o in access.visible(ctx.cache, user, objs)), key=lambda d: d.id)
    return DatasetList(total=len(items), datasets=window(items, skip, limit))


@router.get("/models", response_model=ModelList, operation_id="platform_list_models")
async def list_models(ctx: ContextDep, user: CurrentUser, skip: Skip = 0, limit: Limit = 100) -> ModelList:
    ids = project_ids(ctx)
    done = access.visible(ctx.cache, user, ctx.cache.trainings.in_phase("Succeeded"))
    models = sorted((m.finetuned_model(o, ids) for o in done), key=lambda x: int(x.id))
    seen: set[str] = set()
    for trainer in sorted(ctx.cache.trainers.all(), key=meta.name):
        for entry in meta.spec(trainer).get("models") or []:
            if entry.get("id") not in seen:
                seen.add(entry.get("id"))
                models.append(m.catalog_model(entry))
    return ModelList(total=len(models), models=window(models, skip, limit))


@router.get("/training/models", response_model=TrainingModels, operation_id="platform_training_models")
async def training_models(ctx: ContextDep, user: CurrentUser) -> TrainingModels:
    seen: set[str] = set()
    out = []
    for trainer in sorted(ctx.cache.trainers.all(), key=meta.name):
        for entry in meta.spec(trainer).get("models") or []:
            if entry.get("id") not in seen:
                seen.add(entry.get("id"))
                out.append(m.training_model(entry))
    return TrainingModels(models=out)


@router.get("/training/templates", response_model=Templates, operation_id="platform_training_templates")
async def training_templates(ctx: ContextDep, user: CurrentUser) -> Templates:
    return Templates(templates=[m.template(t) for t in sorted(ctx.cache.trainers.all(), key=meta.name)])

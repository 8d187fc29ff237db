"""GET /providers, /parameters/{provider}, /models: Trainers seen as providers."""

from __future__ import annotations

from fastapi import APIRouter

from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import finetune as m
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.finetune import Models, Parameters, ProviderModel, ProviderModels, Providers

router = APIRouter()


def resolve_provider(ctx: AppContext, provider: str) -> Obj:
    """A provider id names a Trainer (TOGETHER_AI -> together-ai) or is an alias the chart configures."""
    name = ctx.settings.provider_aliases.get(provider) or m.trainer_name(provider)
    trainer = ctx.cache.trainers.get(name)
    if trainer is None:
        raise ApiError(404, f"provider {provider!r} not found")
    return trainer


@router.get("/providers", response_model=Providers, operation_id="finetune_list_providers")
async def providers(ctx: ContextDep, user: CurrentUser) -> Providers:
    out = {m.provider_id(meta.name(t)): meta.spec(t).get("displayName") or meta.name(t)
           for t in sorted(ctx.cache.trainers.all(), key=meta.name)}
    for alias, target in ctx.settings.provider_aliases.items():
        trainer = ctx.cache.trainers.get(target)
        if trainer is not None and alias not in out:
            out[alias] = f"{alias.replace('_', ' ').title()} (via {meta.name(trainer)})"
    return Providers(providers=out)


@router.get("/parameters/{provider}", response_model=Parameters, operation_id="finetune_provider_parameters")
async def parameters(ctx: ContextDep, user: CurrentUser, provider: str) -> Parameters:
    trainer = resolve_provider(ctx, provider)
    return Parameters(parameters=[m.parameter(p) for p in meta.spec(trainer).get("parameters") or []])


@router.get("/models", response_model=Models, operation_id="finetune_list_models")
async def models(ctx: ContextDep, user: CurrentUser) -> Models:
    out = []
    for trainer in sorted(ctx.cache.trainers.all(), key=meta.name):
        spec = meta.spec(trainer)
        out.append(ProviderModels(
            provider_id=m.provider_id(meta.name(trainer)), provider_name=spec.get("displayName") or meta.name(trainer),
            models=[ProviderModel(**{k: v for k, v in e.items() if k in ProviderModel.model_fields})
                    for e in spec.get("models") or []]))
    return Models(providers=out)

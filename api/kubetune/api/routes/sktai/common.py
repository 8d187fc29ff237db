"""Shared by the seed 000 routes: list parameters, lookups, DTO assembly."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from kubetune.api import access
from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.mapping import meta
from kubetune.api.mapping import sktai as m
from kubetune.api.mapping.meta import Obj, is_number
from kubetune.api.schemas.sktai import TrainingRead

Page = Annotated[int, Query(ge=1, le=100000, description="1-based page number.")]
Size = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
Sort = Annotated[str | None, Query(max_length=200, description="`field`, `-field` or `field,desc`; `;` joins.")]
Filter = Annotated[str | None, Query(max_length=1000, description="`key:value[|value]`, `,` joins.")]
Search = Annotated[str | None, Query(max_length=200, description="Substring of name or description.")]


def project_key_of(ctx: AppContext, namespace: str) -> str:
    ns = ctx.cache.namespaces.get(namespace)
    return access.project_key(ns) if ns else namespace


def trainer_id_of(ctx: AppContext, name: str) -> str:
    trainer = ctx.cache.trainers.get(name)
    return meta.uid(trainer) if trainer else name


def read(ctx: AppContext, training: Obj) -> TrainingRead:
    return m.training(training, project_key_of(ctx, meta.namespace(training)),
                      lambda name: trainer_id_of(ctx, name))


def training(ctx: AppContext, user: Principal, training_id: str) -> Obj:
    """By uid (the id this API returns), or by numeric id."""
    cache = ctx.cache
    obj = cache.trainings.by_uid(training_id)
    if obj is None and is_number(training_id):
        obj = cache.trainings.by_id(int(training_id))
    if obj is None:
        from kubetune.api.core.errors import ApiError

        raise ApiError(404, f"training {training_id!r} not found")
    access.check_namespace(cache, user, meta.namespace(obj))
    return obj

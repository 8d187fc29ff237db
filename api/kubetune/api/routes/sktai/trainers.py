"""GET/POST /api/v1/trainers and GET/PUT/DELETE /api/v1/trainers/{trainer_id}. Writes need an admin."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import ValidationError

from kubetune.api.cluster import TRAINERS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import AdminUser, ContextDep, CurrentUser
from kubetune.api.mapping import meta, query
from kubetune.api.mapping import sktai as m
from kubetune.api.mapping.meta import Obj
from kubetune.api.routes.sktai.common import Filter, Page, Search, Size, Sort
from kubetune.api.schemas.sktai import TrainerCreate, TrainerRead, TrainersRead, TrainerUpdate
from kubetune.crd.kinds import TRAINER
from kubetune.crd.trainer import TrainerSpec

router = APIRouter()


def _trainer(ctx: AppContext, trainer_id: str) -> Obj:
    obj = ctx.cache.trainers.by_uid(trainer_id) or ctx.cache.trainers.get(trainer_id)
    if obj is None:
        raise ApiError(404, f"trainer {trainer_id!r} not found")
    return obj


def _validated(spec: dict[str, object]) -> TrainerSpec:
    try:
        return TrainerSpec.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApiError(422, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc


@router.get("/trainers", response_model=TrainersRead, operation_id="sktai_list_trainers")
async def list_trainers(ctx: ContextDep, user: CurrentUser, page: Page = 1, size: Size = 10, sort: Sort = None,
                        filter: Filter = None, search: Search = None) -> TrainersRead:
    result = query.apply(ctx.cache.trainers.all(), m.TRAINER_GETTERS, page, size,
                         query.parse_sort(sort, m.TRAINER_SORT), query.parse_filter(filter, m.TRAINER_FILTER),
                         search, search_fields=("name", "display_name", "description"), default_sort="name")
    return TrainersRead(data=[m.trainer(o) for o in result.items], pagination=m.pagination(result))


@router.post("/trainers", response_model=TrainerRead, status_code=201, operation_id="sktai_create_trainer")
async def create_trainer(ctx: ContextDep, user: AdminUser, body: TrainerCreate) -> TrainerRead:
    spec = _validated(m.trainer_spec(body.model_dump()))
    obj = await ctx.cluster.create(TRAINERS, TRAINER.manifest(body.name, spec))
    return m.trainer(ctx.cache.remember(TRAINERS, obj))


@router.get("/trainers/{trainer_id}", response_model=TrainerRead, operation_id="sktai_get_trainer")
async def get_trainer(ctx: ContextDep, user: CurrentUser, trainer_id: str) -> TrainerRead:
    return m.trainer(_trainer(ctx, trainer_id))


@router.put("/trainers/{trainer_id}", response_model=TrainerRead, operation_id="sktai_update_trainer")
async def update_trainer(ctx: ContextDep, user: AdminUser, trainer_id: str, body: TrainerUpdate) -> TrainerRead:
    obj = _trainer(ctx, trainer_id)
    changes = m.trainer_spec(body.model_dump(exclude_unset=True))
    _validated({**meta.spec(obj), **changes})
    updated = await ctx.cluster.patch(TRAINERS, meta.name(obj), {"spec": changes})
    return m.trainer(ctx.cache.remember(TRAINERS, updated))


@router.delete("/trainers/{trainer_id}", status_code=204, response_class=Response,
               operation_id="sktai_delete_trainer")
async def delete_trainer(ctx: ContextDep, user: AdminUser, trainer_id: str) -> Response:
    obj = _trainer(ctx, trainer_id)
    in_use = [t for t in ctx.cache.trainings.all() if meta.spec(t).get("trainerRef") == meta.name(obj)
              and meta.status(t).get("phase") not in ("Succeeded", "Failed")]
    if in_use:
        raise ApiError(409, f"trainer is used by {len(in_use)} unfinished training(s)")
    await ctx.cluster.delete(TRAINERS, meta.name(obj))
    ctx.cache.forget(TRAINERS, obj)
    return Response(status_code=204)

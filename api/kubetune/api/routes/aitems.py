"""Seed 004: GET /api/v1/services/{serviceId}/trains (serviceId = project)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from kubetune.api import access
from kubetune.api.core.errors import error_responses
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.phases import training_status

router = APIRouter(prefix="/api/v1", tags=["aitems"], responses=error_responses("aitems", 401, 403, 404, 422))


class Train(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    service_id: str = Field(alias="serviceId")
    type: str = Field(description="Training request type: the Training's task.")
    hp_config: dict[str, Any] = Field(alias="hpConfig", description="HPO settings; is_enabled plus options.")
    version: str = Field(description="The Training's id (uid).")
    description: str | None = None
    status: str
    created_date: str = Field(alias="createdDate")
    next_update_date: str | None = Field(default=None, alias="nextUpdateDate")
    inference: bool = Field(description="Whether a served result exists.")


class Trains(BaseModel):
    trains: list[Train]
    offset: int
    limit: int


def hp_config(training: Obj) -> dict[str, Any]:
    hpo = meta.spec(training).get("hpo") or {}
    config: dict[str, Any] = {"is_enabled": bool(hpo.get("enabled"))}
    if hpo:
        objective = hpo.get("objective") or {}
        config.update(strategy=hpo.get("strategy", "grid"), max_trials=hpo.get("maxTrials", 4),
                      parallel_trials=hpo.get("parallelTrials", 1),
                      objective_metric=objective.get("metric", "eval_loss"), goal=objective.get("goal", "minimize"))
        best = meta.status(training).get("bestTrial")
        if best:
            config["best_trial"] = best
    return config


def train(training: Obj, service_id: str) -> Train:
    st = meta.status(training)
    created = meta.created(training).replace(tzinfo=None).isoformat(timespec="milliseconds")
    return Train(service_id=service_id, type=meta.spec(training).get("task", "causal-lm"),
                 hp_config=hp_config(training), version=meta.uid(training),
                 description=meta.spec(training).get("description"), status=training_status(training, "aitems"),
                 created_date=created, inference=bool(st.get("inferenceService")))


@router.get("/services/{serviceId}/trains", response_model=Trains, response_model_by_alias=True,
            operation_id="aitems_list_trains")
async def list_trains(ctx: ContextDep, user: CurrentUser, serviceId: str,  # noqa: N803 - the seed's name
                      offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                      isRecent: Annotated[bool, Query()] = False) -> Trains:  # noqa: N803
    ns = access.project(ctx.cache, user, serviceId, ctx.settings.project_namespace_prefix)
    trainings = sorted(ctx.cache.trainings.in_project(meta.name(ns)), key=lambda t: (meta.created(t), meta.uid(t)),
                       reverse=True)
    if isRecent:  # newest per type only
        newest: dict[str, Obj] = {}
        for t in trainings:
            newest.setdefault(meta.spec(t).get("task", "causal-lm"), t)
        trainings = [t for t in trainings if newest.get(meta.spec(t).get("task", "causal-lm")) is t]
    page = trainings[offset:offset + limit]
    return Trains(trains=[train(t, serviceId) for t in page], offset=offset, limit=limit)

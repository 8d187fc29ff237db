"""GET/POST .../metrics and GET/PUT/DELETE .../metrics/{metric_id}."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kubetune.api import metrics_store as store
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping.query import Page as ResultPage
from kubetune.api.mapping.sktai import pagination
from kubetune.api.routes.sktai.common import Page, Size, training
from kubetune.api.schemas.sktai import TrainingMetricCreate, TrainingMetricRead, TrainingMetricsRead

router = APIRouter()


@router.get("/trainings/{training_id}/metrics", response_model=TrainingMetricsRead,
            operation_id="sktai_list_training_metrics")
async def list_metrics(ctx: ContextDep, user: CurrentUser, training_id: str, page: Page = 1,
                       size: Size = 50) -> TrainingMetricsRead:
    obj = training(ctx, user, training_id)
    items = store.trainer_metrics(obj) + store.api_metrics(ctx, obj)
    start = (page - 1) * size
    return TrainingMetricsRead(data=items[start:start + size],
                               pagination=pagination(ResultPage([], page, size, len(items))))


@router.post("/trainings/{training_id}/metrics", response_model=TrainingMetricRead, status_code=201,
             operation_id="sktai_create_training_metric")
async def create_metric(ctx: ContextDep, user: CurrentUser, training_id: str,
                        body: TrainingMetricCreate) -> TrainingMetricRead:
    return await store.create(ctx, training(ctx, user, training_id), body)


@router.get("/trainings/{training_id}/metrics/{metric_id}", response_model=TrainingMetricRead,
            operation_id="sktai_get_training_metric")
async def get_metric(ctx: ContextDep, user: CurrentUser, training_id: str, metric_id: str) -> TrainingMetricRead:
    return store.get(ctx, training(ctx, user, training_id), metric_id)


@router.put("/trainings/{training_id}/metrics/{metric_id}", response_model=TrainingMetricRead,
            operation_id="sktai_update_training_metric")
async def update_metric(ctx: ContextDep, user: CurrentUser, training_id: str, metric_id: str,
                        body: TrainingMetricCreate) -> TrainingMetricRead:
    return await store.update(ctx, training(ctx, user, training_id), metric_id, body)


@router.delete("/trainings/{training_id}/metrics/{metric_id}", status_code=204, response_class=Response,
               operation_id="sktai_delete_training_metric")
async def delete_metric(ctx: ContextDep, user: CurrentUser, training_id: str, metric_id: str) -> Response:
    await store.delete(ctx, training(ctx, user, training_id), metric_id)
    return Response(status_code=204)

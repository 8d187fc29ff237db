"""/v1/fine_tuning/jobs: create, list, retrieve, cancel, pause, resume, events, checkpoints.

A job is a Training in the caller's project named `ftjob-<hex>` (its id); the job's state is read from
the Training and its Events. Pause is `spec.suspend`, resume unsuspends from the latest checkpoint,
cancel suspends for good (an annotation says so; the checkpoints stay). Jobs are created with
`serve` on, so the fine-tuned model answers on /v1/chat/completions once the job succeeds.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kubetune.api.access import project_key
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import TRAININGS
from kubetune.api.context import AppContext
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping import openai_create as oc
from kubetune.api.mapping import openai_jobs as jobs
from kubetune.api.mapping import openai_names as names
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.training_spec import TrainingRequest
from kubetune.api.routes.openai.common import After, ProjectHeader, invalid, page, project
from kubetune.api.routes.openai.files import copy_beside, find_file
from kubetune.api.schemas.openai import (
    FineTuningJob,
    JobCheckpointList,
    JobCreate,
    JobEventList,
    JobList,
)
from kubetune.api.submit import create_training
from kubetune.crd import labels as lbl

router = APIRouter(prefix="/fine_tuning")
Limit = Annotated[int, Query(ge=1, le=100)]


def find_job(ctx: AppContext, ns: Obj, job_id: str) -> Obj:
    found = ctx.cache.trainings.get(job_id, meta.name(ns)) if job_id else None
    if found is None:
        raise invalid(f"No such fine-tuning job: {job_id}", "fine_tuning_job_id", code="job_not_found",
                      status=404)
    return found


def to_job(ctx: AppContext, ns: Obj, obj: Obj) -> FineTuningJob:
    dataset = meta.spec(obj).get("dataset") or {}
    ref = (dataset.get("ref") or {}).get("name") or str(dataset.get("uri") or "").rsplit("/", 1)[-1]
    return jobs.job_object(obj, project_key(ns), ref)


def base_of(ctx: AppContext, ns: Obj, model: str) -> tuple[Obj, str, str]:
    """(Trainer, baseModel, catalog id or model name) for a catalog model or an `ft:` model of this project."""
    trainers = ctx.cache.trainers.all()
    wanted = names.parse_fine_tuned(model)
    if wanted is None:
        trainer = oc.trainer_for(trainers, model)
        return trainer, oc.catalog_id(trainer, model), model
    parent = ctx.cache.trainings.get(wanted.job, meta.name(ns)) if wanted.project == project_key(ns) else None
    if parent is None:
        raise invalid(f"model {model!r} is not a fine-tuned model of this project", "model",
                      code="model_not_available")
    parent_trainer = ctx.cache.trainers.get(str(meta.spec(parent).get("trainerRef")))
    if parent_trainer is None:
        raise invalid(f"the Trainer of {model!r} is gone", "model", code="model_not_available")
    tail = f"/checkpoints/{wanted.step}" if wanted.step is not None else ""
    return parent_trainer, f"training://{wanted.job}{tail}", model


async def create(ctx: AppContext, user: Principal, ns: Obj, body: JobCreate) -> Obj:
    method, hp = oc.method_of(body)
    if body.suffix is not None and not names.SUFFIX_PATTERN.match(body.suffix):
        raise invalid("suffix holds at most 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", "suffix")
    if body.integrations:
        raise invalid("integrations are not supported", "integrations")
    oc.check_metadata(body.metadata)
    dataset = find_file(ctx, ns, body.training_file, "training_file")
    oc.check_file(dataset, method, "training_file")
    validation = find_file(ctx, ns, body.validation_file, "validation_file") if body.validation_file else None
    if validation is not None:
        oc.check_file(validation, method, "validation_file")
        if meta.spec(validation).get("format") != meta.spec(dataset).get("format"):
            raise invalid(f"validation_file is {meta.spec(validation).get('format')}, training_file "
                          f"{meta.spec(dataset).get('format')}: both must have one format", "validation_file")
    trainer, base_model, reported_model = base_of(ctx, ns, body.model)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    resolved = oc.resolve(trainer, method, hp, seed)
    annotations = {
        names.MODEL: reported_model, names.SUFFIX: body.suffix or "", names.METHOD: method,
        names.HYPERPARAMETERS: json.dumps(resolved.reported, sort_keys=True),
    }
    if body.metadata:
        annotations[names.METADATA] = json.dumps(body.metadata, sort_keys=True)
    req = TrainingRequest(
        namespace="", name=f"ftjob-{secrets.token_hex(8)}", trainer=meta.name(trainer), base_model=base_model,
        source_api=names.SOURCE_API, owner="", dataset_ref=meta.name(dataset), params=resolved.params,
        display_name=body.suffix or None, serve=True, objective="dpo" if method == "dpo" else None,
        annotations=annotations)
    if validation is None:
        return await create_training(ctx, user, ns, req)
    # The trainer reads a file Dataset's validation split from a sibling file: the validation file is
    # copied there under the job's name (the job's own copy; removed again if the Training is refused).
    await ctx.authorizer.require(user, "create", TRAININGS, meta.name(ns))  # before a byte is written
    req.validation_split = f"{req.name}-validation"
    annotations[names.VALIDATION_FILE] = meta.name(validation)
    copied = await asyncio.to_thread(copy_beside, ctx, validation, dataset, req.validation_split)
    try:
        return await create_training(ctx, user, ns, req)
    except BaseException:
        await asyncio.to_thread(ctx.storage.remove, meta.name(ns), copied)
        raise


@router.post("/jobs", response_model=FineTuningJob, operation_id="openai_create_fine_tuning_job")
async def create_job(ctx: ContextDep, user: CurrentUser, body: JobCreate,
                     openai_project: ProjectHeader = None) -> FineTuningJob:
    ns = project(ctx, user, openai_project)
    return to_job(ctx, ns, await create(ctx, user, ns, body))


def _metadata_filter(request: Request) -> dict[str, str]:
    """`metadata[key]=value` query parameters, as the SDK sends `metadata={...}`."""
    return {k[len("metadata["):-1]: v for k, v in request.query_params.items()
            if k.startswith("metadata[") and k.endswith("]")}


@router.get("/jobs", response_model=JobList, operation_id="openai_list_fine_tuning_jobs")
async def list_jobs(request: Request, ctx: ContextDep, user: CurrentUser, openai_project: ProjectHeader = None,
                    after: After = None, limit: Limit = 20) -> JobList:
    ns = project(ctx, user, openai_project)
    wanted = _metadata_filter(request)
    objs = sorted(ctx.cache.trainings.in_project(meta.name(ns)), key=lambda o: (meta.created(o), meta.name(o)),
                  reverse=True)
    found = [to_job(ctx, ns, o) for o in objs if not meta.labels(o).get(lbl.HPO_PARENT)]
    found = [j for j in found if all((j.metadata or {}).get(k) == v for k, v in wanted.items())]
    chosen, more = page(found, after, limit)
    return JobList(data=chosen, has_more=more)


@router.get("/jobs/{fine_tuning_job_id}", response_model=FineTuningJob, operation_id="openai_get_fine_tuning_job")
async def get_job(ctx: ContextDep, user: CurrentUser, fine_tuning_job_id: str,
                  openai_project: ProjectHeader = None) -> FineTuningJob:
    ns = project(ctx, user, openai_project)
    return to_job(ctx, ns, find_job(ctx, ns, fine_tuning_job_id))


def control_patch(obj: Obj, action: str) -> dict[str, Any]:
    status = jobs.job_status(obj)
    if action == "cancel":
        if status in jobs.FINISHED:
            raise invalid(f"the job is {status} and cannot be cancelled", code="job_finished")
        return {"metadata": {"annotations": {names.CANCELLED: "true"}}, "spec": {"suspend": True}}
    if action == "pause":
        if status not in ("validating_files", "queued", "running"):
            raise invalid(f"only a queued or running job can be paused; this one is {status}",
                          code="job_not_running")
        return {"spec": {"suspend": True}}
    if status != "paused":
        raise invalid(f"only a paused job can be resumed; this one is {status}", code="job_not_paused")
    return {"spec": {"suspend": False, "resumeFrom": {"checkpoint": "latest"}}}


async def control(ctx: AppContext, user: Principal, header: str | None, job_id: str, action: str) -> FineTuningJob:
    ns = project(ctx, user, header)
    obj = find_job(ctx, ns, job_id)
    patched = await ctx.cluster.patch(TRAININGS, meta.name(obj), control_patch(obj, action), meta.name(ns))
    return to_job(ctx, ns, ctx.cache.remember(TRAININGS, patched))


@router.post("/jobs/{fine_tuning_job_id}/cancel", response_model=FineTuningJob,
             operation_id="openai_cancel_fine_tuning_job")
async def cancel_job(ctx: ContextDep, user: CurrentUser, fine_tuning_job_id: str,
                     openai_project: ProjectHeader = None) -> FineTuningJob:
    return await control(ctx, user, openai_project, fine_tuning_job_id, "cancel")


@router.post("/jobs/{fine_tuning_job_id}/pause", response_model=FineTuningJob,
             operation_id="openai_pause_fine_tuning_job")
async def pause_job(ctx: ContextDep, user: CurrentUser, fine_tuning_job_id: str,
                    openai_project: ProjectHeader = None) -> FineTuningJob:
    return await control(ctx, user, openai_project, fine_tuning_job_id, "pause")


@router.post("/jobs/{fine_tuning_job_id}/resume", response_model=FineTuningJob,
             operation_id="openai_resume_fine_tuning_job")
async def resume_job(ctx: ContextDep, user: CurrentUser, fine_tuning_job_id: str,
                     openai_project: ProjectHeader = None) -> FineTuningJob:
    return await control(ctx, user, openai_project, fine_tuning_job_id, "resume")


@router.get("/jobs/{fine_tuning_job_id}/events", response_model=JobEventList,
            operation_id="openai_list_fine_tuning_events")
async def list_events(ctx: ContextDep, user: CurrentUser, fine_tuning_job_id: str,
                      openai_project: ProjectHeader = None, after: After = None, limit: Limit = 20) -> JobEventList:
    """Newest first; step events are `type: metrics` with the step's losses in `data`."""
    ns = project(ctx, user, openai_project)
    obj = find_job(ctx, ns, fine_tuning_job_id)
    found = jobs.events(obj, project_key(ns), ctx.cache.events.by_extra(meta.uid(obj)))
    chosen, more = page(found, after, limit)
    return JobEventList(data=chosen, has_more=more)


@router.get("/jobs/{fine_tuning_job_id}/checkpoints", response_model=JobCheckpointList,
            operation_id="openai_list_fine_tuning_checkpoints")
async def list_checkpoints(ctx: ContextDep, user: CurrentUser, fine_tuning_job_id: str,
                           openai_project: ProjectHeader = None, after: After = None,
                           limit: Limit = 10) -> JobCheckpointList:
    """Newest first; `fine_tuned_model_checkpoint` is a model the gateway serves (and a job can start from)."""
    ns = project(ctx, user, openai_project)
    found = jobs.checkpoints(find_job(ctx, ns, fine_tuning_job_id), project_key(ns))
    chosen, more = page(found, after, limit)
    return JobCheckpointList(data=chosen, has_more=more, first_id=chosen[0].id if chosen else None,
                             last_id=chosen[-1].id if chosen else None)

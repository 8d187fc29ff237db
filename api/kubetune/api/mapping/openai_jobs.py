"""A Training as an OpenAI fine-tuning job, with its events and checkpoints (pure).

The job's status, events and checkpoints are read from the Training alone (phase, conditions, progress,
history, checkpoints) and the Kubernetes Events about it: nothing is kept anywhere else.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping import openai_names as names
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.openai import (
    CheckpointMetrics,
    FineTuningJob,
    JobCheckpoint,
    JobError,
    JobEvent,
    JobStatus,
    ResolvedHyperparameters,
    ResolvedMethod,
    ResolvedMethodConfig,
)

PHASE_STATUS: dict[str, JobStatus] = {
    "": "validating_files", "Pending": "queued", "Queued": "queued", "Running": "running", "Stopping": "running",
    "Stopped": "paused", "Succeeded": "succeeded", "Failed": "failed",
}
FILE_REASONS = {"WaitingForDataset"}
FINISHED = {"succeeded", "failed", "cancelled"}


def _condition(training: Obj, kind: str) -> dict[str, Any]:
    return next((c for c in meta.status(training).get("conditions") or [] if c.get("type") == kind), {})


def is_cancelled(training: Obj) -> bool:
    return meta.annotations_of(training).get(names.CANCELLED) == "true"


def job_status(training: Obj) -> JobStatus:
    """Cancelled is ours (an annotation): the Training itself is only suspended, its checkpoints kept."""
    phase = str(meta.status(training).get("phase") or "")
    if phase not in ("Succeeded", "Failed") and is_cancelled(training):
        return "cancelled"
    if phase not in ("Succeeded", "Failed") and meta.spec(training).get("suspend"):
        return "paused"
    if phase in ("Stopping", "Stopped"):  # resumed, the operator has not started it again yet
        return "queued"
    if phase == "Pending" and _condition(training, "Pending").get("reason") in FILE_REASONS:
        return "validating_files"
    return PHASE_STATUS.get(phase, "queued")


def _snake(text: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", text).lower() or "job_failed"


def job_error(training: Obj) -> JobError | None:
    if meta.status(training).get("phase") != "Failed":
        return None
    cond = _condition(training, "Failed")
    reason = str(cond.get("reason") or "JobFailed")
    message = str(cond.get("message") or meta.status(training).get("message") or "the fine-tuning job failed")
    if reason in ("ValidationFailed", "InvalidReference") and "dataset" in message.lower():
        return JobError(code="invalid_training_file", message=message, param="training_file")
    return JobError(code=_snake(reason), message=message)


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _json(training: Obj, key: str) -> dict[str, Any]:
    try:
        found = json.loads(meta.annotations_of(training).get(key) or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def hyperparameters(training: Obj) -> ResolvedHyperparameters:
    """What the job was resolved to at creation (ours), or the Training's own values (other APIs')."""
    resolved = _json(training, names.HYPERPARAMETERS)
    if resolved:
        return ResolvedHyperparameters(**resolved)
    hp = meta.spec(training).get("hyperparameters") or {}
    return ResolvedHyperparameters(batch_size=hp.get("batchSize"), n_epochs=hp.get("epochs"))


def method_type(training: Obj) -> str:
    ann = meta.annotations_of(training).get(names.METHOD)
    return ann or str(meta.spec(training).get("objective") or "supervised")


def _trained_tokens(status: dict[str, Any]) -> int | None:
    """OpenAI's billable tokens: what the trainer counted (status.progress.tokens), null while running."""
    tokens = (status.get("progress") or {}).get("tokens")
    return int(tokens) if isinstance(tokens, int) else None


def job_object(training: Obj, project: str, training_file: str) -> FineTuningJob:
    st = meta.status(training)
    spec = meta.spec(training)
    status = job_status(training)
    hp = hyperparameters(training)
    kind = "dpo" if method_type(training) == "dpo" else "supervised"
    config = ResolvedMethodConfig(hyperparameters=hp)
    eta = (st.get("progress") or {}).get("etaSeconds")
    estimated = None
    if status == "running" and isinstance(eta, (int, float)):
        estimated = int(datetime.now().timestamp() + eta)
    finished = _ts(meta.parse_time(st.get("completionTime"))) if status in FINISHED else None
    seed = (spec.get("hyperparameters") or {}).get("seed")
    ann = meta.annotations_of(training)
    return FineTuningJob(
        id=meta.name(training), created_at=int(meta.created(training).timestamp()), error=job_error(training),
        fine_tuned_model=names.training_model_name(training, project) if status == "succeeded" else None,
        finished_at=finished, hyperparameters=hp,
        model=ann.get(names.MODEL) or names.base_name(str(spec.get("baseModel") or "")),
        organization_id=project, seed=int(seed) if isinstance(seed, int) else 0, status=status,
        training_file=training_file, validation_file=ann.get(names.VALIDATION_FILE) or None,
        estimated_finish=estimated, metadata=_json(training, names.METADATA) or None,
        trained_tokens=_trained_tokens(st) if status == "succeeded" else None,
        method=ResolvedMethod(type=kind, **{kind: config}))


def _event(training: Obj, key: str, when: datetime, message: str, level: str = "info",
           data: dict[str, Any] | None = None, kind: str = "message") -> JobEvent:
    return JobEvent(id=f"ftevent-{meta.name(training)}-{key}", created_at=int(when.timestamp()), level=level,
                    message=message, data=data, type=kind)


def _step_time(training: Obj, step: int) -> datetime:
    """History points carry no time: placed between start and end (or now) by their step."""
    st = meta.status(training)
    start = meta.parse_time(st.get("startTime")) or meta.created(training)
    end = meta.parse_time(st.get("completionTime")) or datetime.now(start.tzinfo)
    total = (st.get("progress") or {}).get("totalSteps") or 0
    fraction = min(step / total, 1.0) if total else 1.0
    return start + (end - start) * fraction


def metric_events(training: Obj) -> list[tuple[datetime, int, JobEvent]]:
    total = (meta.status(training).get("progress") or {}).get("totalSteps") or None
    out = []
    for point in meta.status(training).get("history") or []:
        step = int(point.get("step") or 0)
        data = {"step": step, "total_steps": total, "train_loss": point.get("loss"),
                "valid_loss": point.get("evalLoss"), "learning_rate": point.get("learningRate"),
                "epoch": point.get("epoch")}
        data = {k: v for k, v in data.items() if v is not None}
        loss = point.get("loss")
        text = f"Step {step}/{total}: training loss={loss:.4f}" if isinstance(loss, (int, float)) else \
            f"Step {step}/{total}"
        out.append((_step_time(training, step), 2, _event(training, f"step-{step}", _step_time(training, step),
                                                            text, data=data, kind="metrics")))
    return out


def events(training: Obj, project: str, kube_events: list[Obj]) -> list[JobEvent]:
    """Newest first: creation, Kubernetes Events, condition transitions, metrics, checkpoints, the end."""
    created = meta.created(training)
    found: list[tuple[datetime, int, JobEvent]] = [
        (created, 0, _event(training, "created", created, f"Created fine-tuning job: {meta.name(training)}"))]
    for kev in kube_events:
        when = (meta.parse_time(kev.get("lastTimestamp")) or meta.parse_time(kev.get("eventTime"))
                or meta.created(kev))
        level = "warn" if kev.get("type") == "Warning" else "info"
        found.append((when, 1, _event(training, f"k8s-{meta.uid(kev)[:12]}", when,
                                      f"{kev.get('reason') or 'Event'}: {kev.get('message') or ''}", level)))
    for cond in meta.status(training).get("conditions") or []:
        if cond.get("status") != "True" or cond.get("type") in ("Succeeded", "Failed"):
            continue
        when = meta.parse_time(cond.get("lastTransitionTime")) or created
        found.append((when, 1, _event(training, f"{str(cond.get('type')).lower()}-{int(when.timestamp())}", when,
                                      f"{cond.get('type')}: {cond.get('message') or cond.get('reason')}")))
    found += metric_events(training)
    for ckpt in meta.status(training).get("checkpoints") or []:
        when = meta.parse_time(ckpt.get("time")) or _step_time(training, int(ckpt.get("step") or 0))
        found.append((when, 3, _event(training, f"checkpoint-{ckpt.get('step')}", when,
                                      f"Checkpoint created at step {ckpt.get('step')}")))
    # The outcome stays the newest event and the creation the oldest, whatever Events come after
    # (serving) or carry clock skew.
    ranked = [(0 if item[1] == 0 else 1, *item) for item in found]
    ranked += [(2, *item) for item in _final(training, project)]
    ranked.sort(key=lambda item: (item[0], item[1], item[2], item[3].id), reverse=True)
    return [item[3] for item in ranked]


def _final(training: Obj, project: str) -> list[tuple[datetime, int, JobEvent]]:
    status = job_status(training)
    when = meta.parse_time(meta.status(training).get("completionTime")) or meta.updated(training)
    if status == "succeeded":
        model = names.training_model_name(training, project)
        return [(when, 8, _event(training, "model", when, f"New fine-tuned model created: {model}")),
                (when, 9, _event(training, "succeeded", when, "The job has successfully completed"))]
    if status == "failed":
        error = job_error(training)
        message = error.message if error else "failed"
        return [(when, 9, _event(training, "failed", when, f"Fine-tuning job failed: {message}", "error"))]
    if status == "cancelled":
        return [(meta.updated(training), 9, _event(training, "cancelled", meta.updated(training),
                                                   "Fine-tuning job cancelled"))]
    return []


def checkpoints(training: Obj, project: str) -> list[JobCheckpoint]:
    """Newest first; metrics from the history point at (or just before) the checkpoint's step."""
    history = sorted(meta.status(training).get("history") or [], key=lambda p: int(p.get("step") or 0))
    model = names.training_model_name(training, project)
    out = []
    for ckpt in meta.status(training).get("checkpoints") or []:
        step = int(ckpt.get("step") or 0)
        point: dict[str, Any] = next((p for p in reversed(history) if int(p.get("step") or 0) <= step), {})
        when = meta.parse_time(ckpt.get("time")) or _step_time(training, step)
        out.append(JobCheckpoint(
            id=f"ftckpt-{meta.name(training)}-{step}", created_at=int(when.timestamp()),
            fine_tuned_model_checkpoint=names.checkpoint_model(model, step), fine_tuning_job_id=meta.name(training),
            metrics=CheckpointMetrics(step=step, train_loss=point.get("loss"), valid_loss=point.get("evalLoss")),
            step_number=step))
    return sorted(out, key=lambda c: c.step_number, reverse=True)

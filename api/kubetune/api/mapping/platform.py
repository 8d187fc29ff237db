"""Resources -> seed 003 DTOs (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.phases import DATASET_STATUS, INFERENCE_STATUS, MODEL_STATUS, phase_of, training_status
from kubetune.api.schemas import platform as s
from kubetune.crd import labels as lbl

DISPLAY_NAME = lbl.DISPLAY_NAME
DATASET_KEY = lbl.STORAGE_KEY

ProjectIds = Callable[[str], int | None]  # namespace -> project numeric id


def project(ns: Obj, owner_id: int | None) -> s.ProjectRead:
    ann = meta.annotations_of(ns)
    terminating = (ns.get("status") or {}).get("phase") == "Terminating"
    return s.ProjectRead(
        id=meta.numeric_id(ns), name=ann.get(DISPLAY_NAME) or meta.name(ns), description=ann.get(lbl.DESCRIPTION),
        owner_id=owner_id, status="terminating" if terminating else "active", created_at=meta.created(ns),
        key=meta.labels(ns).get(lbl.PROJECT) or meta.name(ns), namespace=meta.name(ns))


def progress(training: Obj) -> float:
    st = meta.status(training)
    if st.get("phase") == "Succeeded":
        return 100.0
    return float((st.get("progress") or {}).get("percent") or 0)


def task_from_training(training: Obj, project_id: ProjectIds) -> s.TaskRead:
    return s.TaskRead(
        id=meta.numeric_id(training), name=meta.spec(training).get("displayName") or meta.name(training),
        type="training", project_id=project_id(meta.namespace(training)),
        status=training_status(training, "platform"),
        progress=progress(training), created_at=meta.created(training))


def task_from_inference(isvc: Obj, project_id: ProjectIds) -> s.TaskRead:
    status = INFERENCE_STATUS.get(phase_of(isvc), "pending")
    return s.TaskRead(
        id=meta.numeric_id(isvc), name=meta.name(isvc), type="inference",
        project_id=project_id(meta.namespace(isvc)), status=status,
        progress=100.0 if status == "running" else 0.0, created_at=meta.created(isvc))


def dataset(ds: Obj, project_id: ProjectIds) -> s.DatasetRead:
    spec, st = meta.spec(ds), meta.status(ds)
    return s.DatasetRead(
        id=meta.numeric_id(ds), name=spec.get("displayName") or meta.name(ds),
        description=spec.get("description") or "", project_id=project_id(meta.namespace(ds)),
        format=spec.get("format") or "", size=st.get("sizeBytes"), row_count=st.get("rowCount"),
        status=DATASET_STATUS.get(phase_of(ds), "pending"), created_at=meta.created(ds),
        path=meta.annotations_of(ds).get(DATASET_KEY))


def human_size(num_bytes: float | None) -> str:
    if not num_bytes:
        return ""
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return ""


def finetuned_model(training: Obj, project_id: ProjectIds) -> s.ModelRead:
    spec, st = meta.spec(training), meta.status(training)
    summary = st.get("summary") or {}
    metrics: dict[str, float | None] = {"final_loss": summary.get("finalLoss"),
                                        "best_loss": summary.get("bestLoss")}
    metrics.update({k: v for k, v in (st.get("metrics") or {}).items() if isinstance(v, (int, float))})
    return s.ModelRead(
        id=meta.numeric_id(training), name=spec.get("displayName") or meta.name(training),
        base_model=spec.get("baseModel", ""), size="", status="ready",
        metrics=metrics, project_id=project_id(meta.namespace(training)))


def catalog_model(entry: dict[str, Any]) -> s.ModelRead:
    return s.ModelRead(id=entry.get("id", ""), name=entry.get("name", ""), base_model=entry.get("uri", ""),
                       size=entry.get("size", ""), status="ready")


def training_model(entry: dict[str, Any]) -> s.TrainingModel:
    return s.TrainingModel(id=entry.get("id", ""), name=entry.get("name", ""),
                           provider=entry.get("provider", ""), size=entry.get("size", ""),
                           type=entry.get("type", "base"))


def template(trainer: Obj) -> s.Template:
    spec = meta.spec(trainer)
    params = [{_snake(k): v for k, v in p.items()} for p in spec.get("parameters") or []]
    return s.Template(id=meta.name(trainer), name=spec.get("displayName") or meta.name(trainer),
                      description=spec.get("description") or "",
                      min_gpu_memory=(spec.get("resources") or {}).get("minGpuMemory"),
                      methods=list(spec.get("methods") or []), parameters=params)


def inference_model(isvc: Obj, key: str) -> s.InferenceModel:
    st = meta.status(isvc)
    return s.InferenceModel(id=f"{key}/{meta.name(isvc)}", name=st.get("modelVersion") or meta.name(isvc),
                            provider="kubetune", size="", status=MODEL_STATUS.get(phase_of(isvc), "pending"))


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


snake = _snake

"""Resources -> seed 000 DTOs, and the sort/filter fields of its lists (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.phases import training_status
from kubetune.api.mapping.platform import snake
from kubetune.api.mapping.query import Getter, Page
from kubetune.api.schemas import sktai as s
from kubetune.crd import labels as lbl

TrainerIds = Callable[[str], str]  # trainer name -> id (uid)


def _snake_dict(data: dict[str, Any] | None) -> dict[str, Any]:
    return {snake(k): v for k, v in (data or {}).items()}


def progress(training: Obj) -> s.ProgressRead:
    return s.ProgressRead(**_snake_dict(meta.status(training).get("progress")))


def training(obj: Obj, project_key: str, trainer_id: TrainerIds) -> s.TrainingRead:
    spec, st = meta.spec(obj), meta.status(obj)
    params = _snake_dict(spec.get("hyperparameters"))
    params.update(params.pop("extra", None) or {})
    trainer_name = spec.get("trainerRef", "")
    return s.TrainingRead(
        id=meta.uid(obj), numeric_id=meta.numeric_id(obj) or None,
        name=spec.get("displayName") or meta.name(obj), resource_name=meta.name(obj),
        description=spec.get("description"), project_id=project_key, task_id=meta.labels(obj).get(lbl.TASK),
        status=training_status(obj, "sktai"), phase=st.get("phase"), message=st.get("message"),
        trainer_id=trainer_id(trainer_name), trainer_name=trainer_name, base_model=spec.get("baseModel", ""),
        method=spec.get("method", "lora"), task=spec.get("task", "causal-lm"),
        dataset=_snake_dict(spec.get("dataset")), params=params,
        resource=_snake_dict(spec.get("resources")) or None, progress=progress(obj),
        metrics=dict(st.get("metrics") or {}), output_uri=st.get("output"),
        serve=bool((spec.get("serve") or {}).get("enabled")), inference_service=st.get("inferenceService"),
        tracking_url=st.get("trackingUrl"), suspended=bool(spec.get("suspend")), created_at=meta.created(obj),
        updated_at=meta.updated(obj),
        started_at=meta.parse_time(st.get("startTime")), finished_at=meta.parse_time(st.get("completionTime")))


def training_status_read(obj: Obj) -> s.TrainingStatusRead:
    st = meta.status(obj)
    return s.TrainingStatusRead(
        id=meta.uid(obj), status=training_status(obj, "sktai"), phase=st.get("phase"),
        message=st.get("message"), progress=progress(obj), metrics=dict(st.get("metrics") or {}),
        conditions=[_snake_dict(c) for c in st.get("conditions") or []], attempts=st.get("attempts"),
        started_at=meta.parse_time(st.get("startTime")), finished_at=meta.parse_time(st.get("completionTime")))


def training_getters(project_key: Callable[[str], str]) -> dict[str, Getter]:
    # Direct dict access: these run once per object per list request.
    return {
        "id": lambda o: o["metadata"].get("uid", ""),
        "name": lambda o: o.get("spec", {}).get("displayName") or o["metadata"].get("name", ""),
        "description": lambda o: meta.spec(o).get("description"),
        # RFC 3339 UTC timestamps ("...Z") sort as strings in time order: no parsing per request.
        "created_at": lambda o: o["metadata"].get("creationTimestamp", ""),
        "updated_at": meta.updated,
        "status": lambda o: training_status(o, "sktai"),
        "progress": lambda o: (meta.status(o).get("progress") or {}).get("percent", 0),
        "trainer_id": lambda o: meta.spec(o).get("trainerRef"),
        "project_id": lambda o: project_key(meta.namespace(o)),
        "task_id": lambda o: meta.labels(o).get(lbl.TASK),
        "method": lambda o: meta.spec(o).get("method"),
        "base_model": lambda o: meta.spec(o).get("baseModel"),
        "task": lambda o: meta.spec(o).get("task"),
    }


TRAINING_SORT = ("name", "created_at", "updated_at", "status", "progress")
TRAINING_FILTER = ("status", "trainer_id", "project_id", "task_id", "method", "base_model", "task")


def trainer(obj: Obj) -> s.TrainerRead:
    spec = meta.spec(obj)
    return s.TrainerRead(
        id=meta.uid(obj), name=meta.name(obj), display_name=spec.get("displayName") or meta.name(obj),
        description=spec.get("description", ""), image=spec.get("image", ""),
        command=list(spec.get("command") or []), tasks=list(spec.get("tasks") or []),
        methods=list(spec.get("methods") or []),
        parameters=[s.ParameterRead(**_snake_dict(p)) for p in spec.get("parameters") or []],
        models=[s.CatalogModelRead(**_snake_dict(m)) for m in spec.get("models") or []],
        resources=_snake_dict(spec.get("resources")), trainings=int(meta.status(obj).get("trainings") or 0),
        created_at=meta.created(obj), updated_at=meta.updated(obj))


TRAINER_GETTERS: dict[str, Getter] = {
    "id": meta.uid,
    "name": meta.name,
    "display_name": lambda o: meta.spec(o).get("displayName"),
    "description": lambda o: meta.spec(o).get("description"),
    "created_at": meta.created,
    "updated_at": meta.updated,
    "image": lambda o: meta.spec(o).get("image"),
    "trainings": lambda o: meta.status(o).get("trainings", 0),
}
TRAINER_SORT = ("name", "created_at", "updated_at", "trainings")
TRAINER_FILTER = ("name", "image")


def pagination(page: Page) -> s.Pagination:
    return s.Pagination(page=page.page, size=page.size, total=page.total, total_pages=page.total_pages)


def trainer_spec(body: dict[str, Any]) -> dict[str, Any]:
    """TrainerCreate/Update fields -> TrainerSpec wire keys (camelCase), unset fields left out."""
    from pydantic.alias_generators import to_camel

    def camel(value: Any) -> Any:
        if isinstance(value, dict):
            return {to_camel(k): camel(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [camel(v) for v in value]
        return value

    return {to_camel(k): camel(v) for k, v in body.items() if k != "name" and v is not None}

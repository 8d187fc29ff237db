"""Build a Training manifest from what any family's create request carries (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kubetune.api.core.errors import ApiError
from kubetune.crd import labels as lbl
from kubetune.crd.kinds import TRAINING
from kubetune.crd.training import Hyperparameters, TrainingSpec

# Names other APIs use for our typed hyperparameters.
HP_ALIASES = {"n_epochs": "epochs", "num_epochs": "epochs", "lora_r": "lora_rank", "r": "lora_rank",
              "lr": "learning_rate", "per_device_train_batch_size": "batch_size", "max_length": "max_seq_length",
              "scheduler": "lr_scheduler", "lora_targets": "lora_target_modules"}
_TYPED = set(Hyperparameters.model_fields) - {"extra"}


def hyperparameters(values: dict[str, Any] | None) -> dict[str, Any]:
    """Split free-form parameters into typed fields and `extra` (scalars only)."""
    typed: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in (values or {}).items():
        field_name = HP_ALIASES.get(key, key)
        if field_name in _TYPED:
            typed[field_name] = value
        elif isinstance(value, (int, float, str, bool)):
            extra[key] = value
        else:
            raise ApiError(422, f"hyperparameter {key!r} must be a number, string or boolean")
    if extra:
        typed["extra"] = extra
    return typed


@dataclass
class TrainingRequest:
    namespace: str
    name: str
    trainer: str
    base_model: str
    source_api: str
    owner: str
    dataset_ref: str | None = None
    dataset_uri: str | None = None
    dataset_format: str | None = None
    train_split: str | None = None
    validation_split: str | None = None
    data_strategy: str | None = None
    system_message: str | None = None
    thinking_instructions: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    method: str | None = None
    task: str | None = None
    task_label: str | None = None
    project_label: str | None = None
    numeric_id: int | None = None
    display_name: str | None = None
    description: str | None = None
    serve: bool = False
    resources: dict[str, Any] | None = None
    hpo: dict[str, Any] | None = None
    suspend: bool = False
    objective: str | None = None  # supervised | dpo (left out: the model's default)
    annotations: dict[str, str] = field(default_factory=dict)  # a family's own bookkeeping (e.g. openai's)


def base_model_ref(model: str, catalog_ids: set[str]) -> str:
    """A catalog id as is; a hub name like `org/Model-7b` becomes an hf:// uri."""
    if model in catalog_ids or "://" in model:
        return model
    return f"hf://{model.lstrip('/')}"


def build_training(req: TrainingRequest) -> dict[str, Any]:
    dataset: dict[str, Any] = {}
    if req.dataset_ref:
        dataset["ref"] = {"name": req.dataset_ref}
    if req.dataset_uri:
        dataset["uri"] = req.dataset_uri
    for key, value in (("format", req.dataset_format), ("trainSplit", req.train_split),
                       ("validationSplit", req.validation_split), ("dataStrategy", req.data_strategy),
                       ("systemMessage", req.system_message),
                       ("thinkingInstructions", req.thinking_instructions)):
        if value is not None:
            dataset[key] = value
    spec: dict[str, Any] = {
        "trainerRef": req.trainer, "baseModel": req.base_model, "dataset": dataset,
        "hyperparameters": hyperparameters(req.params), "suspend": req.suspend,
    }
    optional: dict[str, Any] = {"method": req.method, "task": req.task, "displayName": req.display_name,
                                "description": req.description, "resources": req.resources, "hpo": req.hpo,
                                "objective": req.objective}
    spec.update({k: v for k, v in optional.items() if v is not None})
    if req.serve:
        spec["serve"] = {"enabled": True}
    try:
        model = TrainingSpec.model_validate(spec)
    except ValidationError as exc:
        raise ApiError(422, _first_error(exc), details=_details(exc)) from exc
    lab = {lbl.PROJECT: req.project_label} if req.project_label else {}
    if req.task_label:
        lab[lbl.TASK] = req.task_label
    manifest = TRAINING.manifest(req.name, model, req.namespace, labels=lab)
    ann = {**req.annotations, lbl.SOURCE_API: req.source_api, lbl.OWNER: req.owner}
    if req.numeric_id is not None:
        ann[lbl.NUMERIC_ID] = str(req.numeric_id)
    manifest["metadata"]["annotations"] = ann
    return manifest


def _details(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])

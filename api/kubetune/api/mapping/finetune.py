"""Resources -> seed 001 DTOs (pure)."""

from __future__ import annotations

from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.phases import training_status
from kubetune.api.mapping.platform import DATASET_KEY, snake
from kubetune.api.schemas import finetune as s
from kubetune.crd import labels as lbl


def provider_id(trainer_name: str) -> str:
    """Trainer `together-ai` <-> provider `TOGETHER_AI`."""
    return trainer_name.upper().replace("-", "_")


def trainer_name(provider: str) -> str:
    return provider.lower().replace("_", "-")


def parameter(definition: dict[str, Any]) -> s.Parameter:
    return s.Parameter(**{snake(k): v for k, v in definition.items()})


def job(obj: Obj, project_key: str, dataset_key: str | None) -> s.Job:
    spec, st = meta.spec(obj), meta.status(obj)
    dataset = spec.get("dataset") or {}
    params = {snake(k): v for k, v in (spec.get("hyperparameters") or {}).items()}
    params.update(params.pop("extra", None) or {})
    pct = 100.0 if st.get("phase") == "Succeeded" else float((st.get("progress") or {}).get("percent") or 0)
    return s.Job(
        id=meta.uid(obj), name=spec.get("displayName") or meta.name(obj), description=spec.get("description"),
        provider=provider_id(spec.get("trainerRef", "")), model_name=spec.get("baseModel", ""),
        fine_tune_model_id=st.get("output"), dataset_path=dataset_key or dataset.get("uri"),
        dataset_id=(dataset.get("ref") or {}).get("name"), train_split_name=dataset.get("trainSplit", "train"),
        validation_split_name=dataset.get("validationSplit"), parameters=params,
        system_message=dataset.get("systemMessage"), thinking_instructions=dataset.get("thinkingInstructions"),
        data_strategy=dataset.get("dataStrategy", "final_only"), format_type=dataset.get("format"),
        status=training_status(obj, "finetune"), latest_status=st.get("phase"),
        message=st.get("message"), progress=pct, project_id=project_key, task_id=meta.labels(obj).get(lbl.TASK),
        created_by=meta.annotations_of(obj).get(lbl.OWNER), created_at=meta.created(obj),
        updated_at=meta.updated(obj), inference_service=st.get("inferenceService"))


def dataset_split(ds: Obj, split: dict[str, Any]) -> s.DatasetSplit:
    counts = [s.SplitCount(name=c.get("name", ""), rows=int(c.get("rows", 0)))
              for c in meta.status(ds).get("splits") or []]
    kind = split.get("name", "all")
    from kubetune.crd.splits import SPLIT_FRACTIONS

    names = {n for n, _ in SPLIT_FRACTIONS.get(kind, ())}
    return s.DatasetSplit(
        id=f"{meta.uid(ds)}:{kind}", name=f"{meta.spec(ds).get('displayName') or meta.name(ds)} ({kind})",
        split_type=kind, seed=int(split.get("seed", 42)), dataset_id=meta.uid(ds),
        dataset_name=meta.name(ds), splits=[c for c in counts if c.name in names], created_at=meta.created(ds))


def dataset_key(ds: Obj | None) -> str | None:
    return meta.annotations_of(ds).get(DATASET_KEY) if ds else None

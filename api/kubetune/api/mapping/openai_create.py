"""A fine-tuning job request, resolved against the Trainers (pure): runtime, base model, hyperparameters.

`auto` takes the Trainer's declared default (its parameter definitions: what /api/v1/training/templates
shows), and the resolved numbers are what the job reports. `learning_rate_multiplier` scales the
Trainer's default learning rate. Besides OpenAI's names, kubetune's typed hyperparameters (max_steps,
lora_rank, save_steps, ...) and the Trainer's declared parameters are accepted; anything else is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.training_spec import HP_ALIASES
from kubetune.api.schemas.openai import Hyperparameters, JobCreate
from kubetune.crd.training import Hyperparameters as TypedHyperparameters

DEFAULT_BETA = 0.1  # DPO's usual temperature (and the Training model's default)
OPENAI_NAMES = {"batch_size", "learning_rate_multiplier", "n_epochs", "beta"}
PREFERENCE_FORMATS = {"openai-dpo", "preference"}


def refuse(message: str, param: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code=code, details={"param": param})


@dataclass
class Resolved:
    method: str  # supervised | dpo
    params: dict[str, Any]  # the Training's hyperparameters (typed names)
    reported: dict[str, Any] = field(default_factory=dict)  # what the job shows, `auto` resolved


def method_of(body: JobCreate) -> tuple[str, Hyperparameters]:
    method = body.method.type if body.method else "supervised"
    if method == "reinforcement":
        raise refuse("method reinforcement is not supported: use supervised or dpo", "method.type")
    config = getattr(body.method, method, None) if body.method else None
    hp = (config.hyperparameters if config else None) or body.hyperparameters or Hyperparameters()
    if method == "supervised" and hp.beta is not None:
        raise refuse("beta is a dpo hyperparameter", "hyperparameters.beta")
    return method, hp


def trainer_for(trainers: list[Obj], model: str) -> Obj:
    """The Trainer whose catalog lists `model` (by id or name); LoRA runtimes first, then by name."""
    found = [t for t in trainers if any(model in (m.get("id"), m.get("name"))
                                        for m in meta.spec(t).get("models") or [])
             and "causal-lm" in (meta.spec(t).get("tasks") or ["causal-lm"])]
    if not found:
        known = sorted({m.get("id", "") for t in trainers for m in meta.spec(t).get("models") or []} - {""})
        raise refuse(f"model {model!r} is not available for fine-tuning; available: {', '.join(known) or 'none'}",
                     "model", code="model_not_available")
    return min(found, key=lambda t: ((meta.spec(t).get("methods") or [""])[0] != "lora", meta.name(t)))


def catalog_id(trainer: Obj, model: str) -> str:
    return str(next(m["id"] for m in meta.spec(trainer).get("models") or []
                    if model in (m.get("id"), m.get("name"))))


def _defaults(trainer: Obj) -> dict[str, Any]:
    return {d.get("name"): d.get("default") for d in meta.spec(trainer).get("parameters") or []}


def resolve(trainer: Obj, method: str, hp: Hyperparameters, seed: int) -> Resolved:
    defaults = _defaults(trainer)
    declared = set(defaults)
    params: dict[str, Any] = {"seed": seed}
    reported: dict[str, Any] = {}
    epochs = (defaults.get("epochs") or 3) if hp.n_epochs in (None, "auto") else hp.n_epochs
    params["epochs"] = epochs
    reported["n_epochs"] = int(epochs) if float(epochs).is_integer() else epochs
    batch = (defaults.get("batch_size") or 8) if hp.batch_size in (None, "auto") else hp.batch_size
    params["batch_size"] = reported["batch_size"] = int(batch)
    multiplier = 1.0 if hp.learning_rate_multiplier in (None, "auto") else float(hp.learning_rate_multiplier)
    if multiplier <= 0:
        raise refuse("learning_rate_multiplier must be positive", "hyperparameters.learning_rate_multiplier")
    reported["learning_rate_multiplier"] = multiplier
    base_lr = defaults.get("learning_rate") or 2e-4
    params["learning_rate"] = float(base_lr) * multiplier
    if method == "dpo":
        beta = DEFAULT_BETA if hp.beta in (None, "auto") else float(hp.beta)
        params["beta"] = reported["beta"] = beta
    typed = set(TypedHyperparameters.model_fields) - {"extra"}
    for name, value in (hp.model_extra or {}).items():
        target = HP_ALIASES.get(name, name)
        if target not in typed and name not in declared:
            raise refuse(f"unknown hyperparameter {name!r}", f"hyperparameters.{name}")
        params[name] = reported[name] = value
    return Resolved(method=method, params=params, reported=reported)


def check_file(dataset: Obj, method: str, param: str) -> None:
    """The file fits the method: preference pairs for dpo, examples for supervised; usable at all."""
    from kubetune.api.mapping.openai_files import purpose

    if purpose(dataset) != "fine-tune":
        raise refuse(f"file {meta.name(dataset)} has purpose {purpose(dataset)!r}, not fine-tune", param,
                     code="invalid_file_purpose")
    if meta.status(dataset).get("phase") == "Invalid":
        raise refuse(f"file {meta.name(dataset)} is invalid: {meta.status(dataset).get('message')}", param,
                     code="invalid_file")
    fmt = str(meta.spec(dataset).get("format") or "")
    if method == "dpo" and fmt not in PREFERENCE_FORMATS:
        raise refuse(f"dpo needs a preference file (input, preferred_output, non_preferred_output); "
                     f"{meta.name(dataset)} is {fmt}", param, code="invalid_file")
    if method == "supervised" and fmt in PREFERENCE_FORMATS:
        raise refuse(f"{meta.name(dataset)} holds preference pairs: use method dpo", param, code="invalid_file")


def check_metadata(metadata: dict[str, str] | None) -> None:
    if not metadata:
        return
    if len(metadata) > 16:
        raise refuse("metadata holds at most 16 pairs", "metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise refuse(f"metadata {key[:64]!r}: keys hold at most 64 characters, values 512", "metadata")

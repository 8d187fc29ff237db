"""Spec checks the schema cannot express: a Training against its Trainer, a Trainer against itself.

Each function returns a list of problems (empty: valid), so a user sees all of
them at once in the Failed condition rather than one per attempt.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.references import (
    InvalidReference,
    StoreLayout,
    check_name,
    is_training_uri,
    parse_training_uri,
    resolve,
)
from kubetune.crd.trainer import ParameterDefinition, TrainerSpec
from kubetune.crd.training import SERVE_INTO_NEEDS_ADAPTER, TrainingSpec
from kubetune.crd.vocab import PREFERENCE_FORMATS, TASK_FORMATS
from kubetune.operator.builders.hpo import sample_trials
from kubetune.operator.builders.hyperparameters import flatten, snake
from kubetune.operator.builders.serving import ServedModel

# registry/path:tag@digest, loosely: what a container runtime accepts.
IMAGE_PATTERN = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)

LORA_ONLY = frozenset({"lora_rank", "lora_alpha", "lora_dropout", "lora_target_modules"})
DPO_HYPERPARAMETERS = frozenset({"beta", "label_smoothing", "dpo_loss"})


def check_value(definition: ParameterDefinition, value: Any) -> str | None:
    """Why a value does not fit its definition, or None."""
    name, kind = definition.name, definition.type
    if kind == "bool":
        return None if isinstance(value, bool) else f"{name} must be a boolean, got {value!r}"
    if kind == "string":
        if isinstance(value, list):
            bad = [v for v in value if not isinstance(v, str)]
            return f"{name} must be strings, got {bad!r}" if bad else None
        if not isinstance(value, str):
            return f"{name} must be a string, got {value!r}"
        if definition.choices and value not in definition.choices:
            return f"{name} must be one of {', '.join(definition.choices)}, got {value!r}"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number, got {value!r}"
    if kind == "int" and float(value) != int(value):
        return f"{name} must be an integer, got {value!r}"
    if definition.minimum is not None and value < definition.minimum:
        return f"{name}={value} is below the minimum {definition.minimum:g}"
    if definition.maximum is not None and value > definition.maximum:
        return f"{name}={value} is above the maximum {definition.maximum:g}"
    return None


def check_hyperparameters(values: dict[str, Any], trainer: TrainerSpec, method: str) -> list[str]:
    """Every key declared by the Trainer (when it declares any), every value inside its bounds."""
    problems: list[str] = []
    definitions = {d.name: d for d in trainer.parameters}
    for key, value in sorted(values.items()):
        if method == "full" and key in LORA_ONLY:
            problems.append(f"hyperparameter {key} applies to lora and qlora only, not full fine-tuning")
            continue
        definition = definitions.get(key)
        if definition is None:
            if definitions:
                problems.append(
                    f"hyperparameter {key} is not defined by the Trainer "
                    f"(defined: {', '.join(sorted(definitions))})"
                )
            continue
        problem = check_value(definition, value)
        if problem:
            problems.append(problem)
    return problems


def check_base_model(spec: TrainingSpec, trainer: TrainerSpec) -> list[str]:
    if "://" in spec.base_model:
        return []
    for model in trainer.models:
        if model.id == spec.base_model:
            if model.task != spec.task:
                return [f"base model {model.id} is for task {model.task}, not {spec.task}"]
            return []
    ids = ", ".join(m.id for m in trainer.models) or "none"
    return [
        f"base model {spec.base_model} is not in the Trainer's catalog (available: {ids}) and is not a uri"
    ]


def check_objective(spec: TrainingSpec, fmt: str | None) -> list[str]:
    """dpo learns from preference pairs only, and preference pairs only teach dpo."""
    if fmt is None:
        return []
    if spec.objective == "dpo" and (spec.task != "causal-lm" or fmt not in PREFERENCE_FORMATS):
        return [f"objective dpo needs task causal-lm and a preference dataset (openai-dpo or preference), "
                f"not {spec.task} with {fmt}"]
    if spec.objective == "supervised" and fmt in PREFERENCE_FORMATS:
        return [f"dataset format {fmt} holds preference pairs: use objective dpo"]
    return []


def check_dpo_hyperparameters(spec: TrainingSpec) -> list[str]:
    hp = spec.hyperparameters
    if spec.objective == "dpo":
        if hp.label_smoothing and hp.dpo_loss == "ipo":
            return ["labelSmoothing applies to the sigmoid dpoLoss, not ipo"]
        return []
    used = [name for name, value in (("beta", hp.beta), ("labelSmoothing", hp.label_smoothing),
                                     ("dpoLoss", hp.dpo_loss)) if value is not None]
    return [f"hyperparameter {name} applies to objective dpo only" for name in used]


def check_dataset(spec: TrainingSpec, dataset: DatasetSpec | None, dataset_phase: str | None) -> list[str]:
    source = spec.dataset
    fmt = source.format
    if source.ref is not None:
        if dataset is None:
            return [f"Dataset {source.ref.name} does not exist in this namespace"]
        if dataset_phase == "Invalid":
            return [f"Dataset {source.ref.name} is Invalid"]
        fmt = fmt or dataset.format
    elif fmt is None:
        return ["dataset.format is required when the dataset is given as a uri"]
    allowed = TASK_FORMATS.get(spec.task, frozenset())
    if fmt not in allowed:
        return [
            f"dataset format {fmt} cannot train task {spec.task} (use one of: {', '.join(sorted(allowed))})"
        ]
    return check_objective(spec, fmt)


def check_hpo(spec: TrainingSpec, trainer: TrainerSpec) -> list[str]:
    """Every sampled trial must itself be a valid Training."""
    if spec.hpo is None or not spec.hpo.enabled:
        return []
    problems: list[str] = []
    base = flatten(spec.hyperparameters)
    seed = spec.hyperparameters.seed
    for values in sample_trials(spec.hpo, seed):
        for problem in check_hyperparameters({**base, **values}, trainer, spec.method):
            if problem not in problems and any(snake(k) in problem for k in values):
                problems.append(f"hpo: {problem}")
    return problems


def validate_training(
    spec: TrainingSpec,
    trainer: TrainerSpec,
    dataset: DatasetSpec | None = None,
    dataset_phase: str | None = None,
    dataset_pending: bool = False,
) -> list[str]:
    """All reasons this Training cannot run with this Trainer.

    ``dataset_pending``: the referenced Dataset is not there or not validated yet, so its checks wait
    (the operator waits for it; admission, kubetune.operator.admission, must not refuse it either).
    """
    problems: list[str] = []
    if spec.task not in trainer.tasks:
        problems.append(
            f"task {spec.task} is not supported by the Trainer (supported: {', '.join(trainer.tasks)})"
        )
    if spec.method not in trainer.methods:
        problems.append(
            f"method {spec.method} is not supported by the Trainer (supported: {', '.join(trainer.methods)})"
        )
    problems += check_base_model(spec, trainer)
    if not dataset_pending:
        problems += check_dataset(spec, dataset, dataset_phase)
    problems += check_dpo_hyperparameters(spec)
    # DPO's own hyperparameters are bounded by the Training's schema; a Trainer need not declare them.
    declared = {k: v for k, v in flatten(spec.hyperparameters).items() if k not in DPO_HYPERPARAMETERS}
    problems += check_hyperparameters(declared, trainer, spec.method)
    problems += check_hpo(spec, trainer)
    problems += check_serve_into(spec)
    return problems


def check_serve_into(spec: TrainingSpec) -> list[str]:
    """serve.into loads one adapter: a full fine-tuning has none, and an HPO search's trials do not serve."""
    if spec.serve is None or spec.serve.into is None:
        return []
    if spec.method == "full":
        return [SERVE_INTO_NEEDS_ADAPTER]
    if spec.hpo is not None and spec.hpo.enabled:
        return ["serve.into is not supported with hpo (the trials serve nothing): serve the best trial's "
                "Training into the service instead"]
    return []


def cross_project_serve_into(spec: TrainingSpec, namespace: str) -> list[str]:
    """serve.into must name an InferenceService of the Training's own namespace (its project)."""
    into = spec.serve.into if spec.serve is not None else None
    if into is None or into.namespace in (None, namespace):
        return []
    return [f"serve.into names InferenceService {into.name} of namespace {into.namespace}: a Training serves its "
            f"adapter only into an InferenceService of its own project (namespace {namespace})"]


def catalog_uris(*trainers: TrainerSpec) -> frozenset[str]:
    """The uris the admin declared in Trainer catalogs: they may live outside every project."""
    return frozenset(model.uri for trainer in trainers for model in trainer.models)


def _reference(uri: str, namespace: str, layout: StoreLayout, what: str) -> list[str]:
    try:
        resolve(uri, namespace, layout, what)
    except InvalidReference as exc:
        return [str(exc)]
    return []


def check_references(spec: TrainingSpec, namespace: str, layout: StoreLayout,
                     dataset_uri: str | None = None) -> list[str]:
    """Every uri and name of the spec through the one resolver (kubetune.crd.references);
    ``dataset_uri``: the referenced Dataset's, checked again here (its spec may have just changed)."""
    problems: list[str] = cross_project_serve_into(spec, namespace)
    if is_training_uri(spec.base_model):  # another Training of this namespace: kubetune.crd.chains resolves it
        try:
            parse_training_uri(spec.base_model)
        except InvalidReference as exc:
            problems.append(str(exc))
    elif "://" in spec.base_model:
        problems += _reference(spec.base_model, namespace, layout, "baseModel")
    if spec.dataset.uri is not None:
        problems += _reference(spec.dataset.uri, namespace, layout, "dataset.uri")
    if dataset_uri is not None:
        problems += _reference(dataset_uri, namespace, replace(layout, trusted=frozenset()), "Dataset uri")
    for what, name in (("dataset.trainSplit", spec.dataset.train_split),
                       ("dataset.validationSplit", spec.dataset.validation_split)):
        if name is not None:
            try:
                check_name(name, what)
            except InvalidReference as exc:
                problems.append(str(exc))
    if spec.output is not None:
        # The admin's catalog is for reading: an output is always the project's own.
        problems += _reference(spec.output, namespace, replace(layout, trusted=frozenset()), "output")
        if spec.output.startswith("hf://"):
            problems.append(f"output {spec.output!r} must be storage (file://, pvc://, s3://), not the hub")
    return problems


def check_served_model(model: ServedModel, namespace: str, layout: StoreLayout) -> list[str]:
    """What an InferenceService would serve (its base model and adapters) through the resolver."""
    problems = _reference(model.base_model, namespace, layout, "model.baseModel")
    for name, uri in sorted(model.adapters.items()):
        problems += _reference(uri, namespace, layout, f"adapter {name}")
    return problems


def validate_trainer(spec: TrainerSpec) -> list[str]:
    """A Trainer's own consistency: image reference, command, parameter defaults within bounds."""
    problems: list[str] = []
    if not IMAGE_PATTERN.match(spec.image):
        problems.append(f"image {spec.image!r} is not a valid image reference")
    if not spec.command or not spec.command[0].strip():
        problems.append("command must name an executable")
    if "qlora" in spec.methods and "causal-lm" not in spec.tasks:
        problems.append("qlora needs the causal-lm task")
    for definition in spec.parameters:
        if definition.choices and definition.type != "string":
            problems.append(f"parameter {definition.name}: choices only apply to strings")
        if definition.default is not None:
            problem = check_value(definition, definition.default)
            if problem:
                problems.append(f"parameter {definition.name} default: {problem}")
    for model in spec.models:
        if model.task not in spec.tasks:
            problems.append(
                f"catalog model {model.id} is for task {model.task}, which the Trainer does not support"
            )
    return problems

"""Training + Trainer (+ Dataset) -> the trainer's mounted run config (TrainRunConfig)."""

from __future__ import annotations

from kubetune.crd import labels as lbl
from kubetune.crd.chains import ChainModel
from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.references import is_training_uri
from kubetune.crd.runconfig import Reporting, RunDataset, RunDistributed, TrainingIdentity, TrainRunConfig
from kubetune.crd.tracking import run_tracking
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders import distributed, podspec
from kubetune.operator.builders.hyperparameters import resolve
from kubetune.operator.settings import Settings


class ResolutionError(ValueError):
    """The Training cannot be turned into a run config (a spec problem, not a transient one)."""


def resolve_base_model(spec: TrainingSpec, trainer: TrainerSpec) -> str:
    """A catalog id becomes its uri; a uri stays as written."""
    if "://" in spec.base_model:
        return spec.base_model
    for model in trainer.models:
        if model.id == spec.base_model:
            return model.uri
    raise ResolutionError(f"base model {spec.base_model!r} is not in the catalog of this Trainer")


def resolve_dataset(spec: TrainingSpec, dataset: DatasetSpec | None) -> RunDataset:
    """The data source with its uri and format settled."""
    source = spec.dataset
    if source.ref is not None:
        if dataset is None:
            raise ResolutionError(f"Dataset {source.ref.name!r} not found")
        uri, fmt = dataset.uri, source.format or dataset.format
    else:
        if source.format is None:
            raise ResolutionError("dataset.format is required when the dataset is given as a uri")
        uri, fmt = source.uri or "", source.format
    return RunDataset(
        uri=uri,
        format=fmt,
        train_split=source.train_split,
        validation_split=source.validation_split,
        validation_fraction=source.validation_fraction,
        data_strategy=source.data_strategy,
        system_message=source.system_message,
        thinking_instructions=source.thinking_instructions,
    )


def resolve_distributed(name: str, spec: TrainingSpec, trainer: TrainerSpec) -> RunDistributed:
    """Processes and strategy settled against the pod's GPUs (the Trainer's default unless overridden)."""
    defaults = trainer.resources
    gpus = podspec.merged_resources(spec.resources, defaults.gpus, None, None, None)[0]
    try:
        resolved = distributed.resolve(spec, gpus)
        distributed.check_names(lbl.training_job_name(name), spec.nodes)
    except distributed.DistributedError as exc:
        raise ResolutionError(str(exc)) from exc
    return resolved


def build_run_config(
    *,
    namespace: str,
    name: str,
    uid: str | None,
    spec: TrainingSpec,
    trainer: TrainerSpec,
    dataset: DatasetSpec | None,
    settings: Settings,
    chain: ChainModel | None = None,
) -> TrainRunConfig:
    """Everything kubetune-train needs, resolved; raises ResolutionError on a spec problem.

    ``chain``: what a ``training://`` base model resolved to (kubetune.crd.chains), required for one.
    """
    if is_training_uri(spec.base_model) and chain is None:
        raise ResolutionError(f"base model {spec.base_model} has not been resolved to a Training's output")
    resume: str | int = "latest"
    if spec.resume_from is not None:
        if spec.resume_from.step is not None:
            resume = spec.resume_from.step
        elif spec.resume_from.checkpoint is not None:
            resume = spec.resume_from.checkpoint
    return TrainRunConfig(
        training=TrainingIdentity(namespace=namespace, name=name, uid=uid),
        task=spec.task,
        method=spec.method,
        objective=spec.objective,
        base_model=chain.base_model if chain is not None else resolve_base_model(spec, trainer),
        adapter=chain.adapter if chain is not None else None,
        dataset=resolve_dataset(spec, dataset),
        hyperparameters=resolve(trainer, spec.hyperparameters),
        output=spec.output or settings.default_output(namespace, name),
        resume=resume,  # "latest" | "none" | a step, checked by the model
        reporting=Reporting(interval_seconds=settings.report_interval_seconds),
        distributed=resolve_distributed(name, spec, trainer),
        tracking=run_tracking(spec.tracking, name),
    )

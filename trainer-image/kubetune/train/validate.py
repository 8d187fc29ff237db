"""Cheap consistency checks run before any weights load: every problem at once, in one error."""

from __future__ import annotations

from pathlib import Path

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.crd.vocab import PREFERENCE_FORMATS, TASK_FORMATS


def problems(config: TrainRunConfig, model_dir: Path | None = None) -> list[str]:
    """What is inconsistent in ``config`` (and against the model's own config, when given)."""
    hp, dataset = config.hyperparameters, config.dataset
    found = []
    if dataset.format not in TASK_FORMATS[config.task]:
        found.append(
            f"dataset format {dataset.format} does not fit task {config.task} "
            f"(use one of {sorted(TASK_FORMATS[config.task])})"
        )
    if config.objective == "dpo" and (config.task != "causal-lm" or dataset.format not in PREFERENCE_FORMATS):
        found.append(
            f"objective dpo needs task causal-lm and a preference dataset (openai-dpo or preference), "
            f"not {config.task} with {dataset.format}"
        )
    if config.objective == "supervised" and dataset.format in PREFERENCE_FORMATS:
        found.append(f"dataset format {dataset.format} holds preference pairs: use objective dpo")
    if hp.eval_steps and not (dataset.validation_split or dataset.validation_fraction):
        found.append("evalSteps is set but there is no validationSplit or validationFraction")
    if hp.lora_target_modules is not None and not hp.lora_target_modules and config.method != "full":
        found.append("loraTargetModules is empty; leave it out for the default")
    if dataset.data_strategy != "final_only" and config.task != "causal-lm":
        found.append(f"data strategy {dataset.data_strategy} applies to causal-lm only")
    if model_dir is not None and model_dir.is_dir() and (model_dir / "config.json").is_file():
        import json

        limit = json.loads((model_dir / "config.json").read_text()).get("max_position_embeddings")
        if config.task != "image-classification" and isinstance(limit, int) and hp.max_seq_length > limit:
            found.append(f"maxSeqLength {hp.max_seq_length} exceeds the model's {limit} positions")
    return found


def check(config: TrainRunConfig, model_dir: Path | None = None) -> None:
    """Raise ``ValueError`` listing every problem."""
    found = problems(config, model_dir)
    if found:
        raise ValueError("invalid training configuration: " + "; ".join(found))

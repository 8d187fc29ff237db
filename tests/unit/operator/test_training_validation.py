"""A Training checked against its Trainer before any Job exists; a Trainer checked against itself."""

from __future__ import annotations

from collections.abc import Callable

from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.validation import validate_trainer, validate_training


def test_a_good_training_has_no_problems(training: TrainingSpec, trainer: TrainerSpec) -> None:
    assert validate_training(training, trainer) == []


def test_unsupported_task_and_method_are_named(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    spec = make_training(
        task="image-classification",
        method="full",
        baseModel="file:///m",
        dataset={"uri": "file:///d.jsonl", "format": "image_classification"},
        hyperparameters={},
    )
    problems = validate_training(spec, trainer)
    assert any("task image-classification is not supported" in p for p in problems)
    assert any("method full is not supported" in p for p in problems)


def test_hyperparameters_outside_bounds_or_undeclared_are_rejected(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    spec = make_training(
        hyperparameters={
            "learningRate": 0.5,
            "loraRank": 512,
            "warmupRatio": 0.1,
            "extra": {"mystery": 1},
            "lrScheduler": "constant",
        }
    )
    problems = "\n".join(validate_training(spec, trainer))
    assert "learning_rate=0.5 is above the maximum 0.01" in problems
    assert "lora_rank=512 is above the maximum 256" in problems
    assert "hyperparameter warmup_ratio is not defined by the Trainer" in problems
    assert "hyperparameter mystery is not defined by the Trainer" in problems
    assert "lr_scheduler must be one of linear, cosine" in problems


def test_numeric_parameters_refuse_strings(make_training: Callable[..., TrainingSpec], trainer: TrainerSpec) -> None:
    spec = make_training(hyperparameters={"extra": {"neftune_alpha": "high"}})
    assert validate_training(spec, trainer) == ["neftune_alpha must be a number, got 'high'"]


def test_a_trainer_without_definitions_accepts_typed_keys(
    make_training: Callable[..., TrainingSpec], make_trainer: Callable[..., TrainerSpec]
) -> None:
    trainer = make_trainer(parameters=[])
    assert validate_training(make_training(hyperparameters={"warmupRatio": 0.1}), trainer) == []


def test_base_model_must_be_in_the_catalog_or_a_uri(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    assert validate_training(make_training(baseModel="hf://org/model"), trainer) == []
    (problem,) = validate_training(make_training(baseModel="gpt-9"), trainer)
    assert "gpt-9 is not in the Trainer's catalog" in problem
    (problem,) = validate_training(make_training(baseModel="tiny-bert"), trainer)
    assert "is for task sequence-classification" in problem


def test_dataset_must_exist_be_valid_and_fit_the_task(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    by_ref = make_training(dataset={"ref": {"name": "chats"}})
    assert validate_training(by_ref, trainer) == ["Dataset chats does not exist in this namespace"]
    ds = DatasetSpec(uri="file:///d.jsonl", format="text_classification")
    (problem,) = validate_training(by_ref, trainer, ds, "Ready")
    assert "format text_classification cannot train task causal-lm" in problem
    ok = DatasetSpec(uri="file:///d.jsonl", format="alpaca")
    assert validate_training(by_ref, trainer, ok, "Ready") == []
    assert validate_training(by_ref, trainer, ok, "Invalid") == ["Dataset chats is Invalid"]
    no_format = make_training(dataset={"uri": "file:///d.jsonl"})
    assert validate_training(no_format, trainer) == ["dataset.format is required when the dataset is given as a uri"]


def test_hpo_search_space_must_fit_the_definitions(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    spec = make_training(
        hpo={
            "enabled": True,
            "strategy": "grid",
            "maxTrials": 4,
            "parameters": [{"name": "learningRate", "values": [1e-4, 0.5]}],
        }
    )
    problems = validate_training(spec, trainer)
    assert problems == ["hpo: learning_rate=0.5 is above the maximum 0.01"]


def test_lora_parameters_do_not_apply_to_full_fine_tuning(
    make_training: Callable[..., TrainingSpec], make_trainer: Callable[..., TrainerSpec]
) -> None:
    trainer = make_trainer(methods=["full"])
    problems = validate_training(make_training(method="full"), trainer)
    assert problems == ["hyperparameter lora_rank applies to lora and qlora only, not full fine-tuning"]


def test_trainer_self_checks(make_trainer: Callable[..., TrainerSpec]) -> None:
    assert validate_trainer(make_trainer()) == []
    bad = make_trainer(
        image="Not An Image!",
        tasks=["sequence-classification"],
        parameters=[{"name": "epochs", "type": "int", "default": 50, "maximum": 10}],
    )
    problems = "\n".join(validate_trainer(bad))
    assert "image 'Not An Image!' is not a valid image reference" in problems
    assert "qlora needs the causal-lm task" in problems
    assert "parameter epochs default: epochs=50 is above the maximum 10" in problems
    assert "catalog model tiny-llama is for task causal-lm" in problems

"""Specs shared by the operator's unit tests: one Trainer, one Training, one Settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings


def trainer_doc() -> dict[str, Any]:
    return {
        "image": "ghcr.io/kubetune/runtime:0.1.0",
        "command": ["kubetune-train"],
        "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}],
        "tasks": ["causal-lm", "sequence-classification"],
        "methods": ["lora", "qlora"],
        "parameters": [
            {"name": "learning_rate", "type": "float", "default": 1e-4, "minimum": 1e-6, "maximum": 1e-2},
            {"name": "epochs", "type": "float", "default": 2, "minimum": 1, "maximum": 10},
            {"name": "lora_rank", "type": "int", "default": 16, "minimum": 1, "maximum": 256},
            {"name": "batch_size", "type": "int", "minimum": 1, "maximum": 64},
            {"name": "lr_scheduler", "type": "string", "choices": ["linear", "cosine"]},
            {"name": "neftune_alpha", "type": "float", "default": 5, "minimum": 0, "maximum": 20},
        ],
        "models": [
            {"id": "tiny-llama", "name": "Tiny Llama", "uri": "file:///models/tiny-llama"},
            {
                "id": "tiny-bert",
                "name": "Tiny Bert",
                "uri": "file:///models/tiny-bert",
                "task": "sequence-classification",
                "type": "classifier",
            },
        ],
        "resources": {"gpus": 1, "gpuProduct": "NVIDIA-A100-SXM4-80GB", "cpu": "4", "memory": "16Gi"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
        "priorityClassName": "training",
    }


def training_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "trainerRef": "lora",
        "task": "causal-lm",
        "method": "lora",
        "baseModel": "tiny-llama",
        "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"},
        "hyperparameters": {"learningRate": 5e-4, "loraRank": 8},
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def trainer() -> TrainerSpec:
    return TrainerSpec.model_validate(trainer_doc())


@pytest.fixture
def training() -> TrainingSpec:
    return TrainingSpec.model_validate(training_doc())


@pytest.fixture
def settings() -> Settings:
    return Settings(artifact_pvc="artifacts", artifact_mount_path="/mnt/artifacts", runtime_image="rt:1")


@pytest.fixture
def owner() -> Owner:
    return Owner(
        api_version="kubetune.io/v1alpha1",
        kind="Training",
        name="run-1",
        uid="uid-1",
        namespace="team-a",
        labels={"kubetune.io/project": "team-a", "unrelated": "x"},
    )


@pytest.fixture
def make_training() -> Callable[..., TrainingSpec]:
    """A Training spec with fields overridden (wire names)."""

    def make(**overrides: Any) -> TrainingSpec:
        return TrainingSpec.model_validate(training_doc(**overrides))

    return make


@pytest.fixture
def make_trainer() -> Callable[..., TrainerSpec]:
    """A Trainer spec with fields overridden (wire names)."""

    def make(**overrides: Any) -> TrainerSpec:
        return TrainerSpec.model_validate({**trainer_doc(), **overrides})

    return make

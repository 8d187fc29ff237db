"""Fixtures of the inference server tests: tiny models and LoRA adapters made on the spot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_helpers import FakeRuntime


@pytest.fixture
def fake_runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve-models")


def _lora(
    model: Any, directory: Path, modules: list[str], save_modules: list[str] | None = None, seed: int = 1
) -> Path:
    """A LoRA adapter with random (non-zero) weights, so it visibly changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(
        r=4, lora_alpha=16, target_modules=modules, init_lora_weights=False, modules_to_save=save_modules
    )
    get_peft_model(model, config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_lm(models_dir: Path) -> tuple[Path, Path]:
    """A tiny causal LM and one LoRA adapter for it."""
    from transformers import AutoModelForCausalLM

    from kubetune.testing.tiny import make_tiny_causal_lm

    base = make_tiny_causal_lm(models_dir / "lm")
    adapter = _lora(AutoModelForCausalLM.from_pretrained(base), models_dir / "lm-lora", ["q_proj", "v_proj"])
    return base, adapter


@pytest.fixture(scope="session")
def tiny_classifier(models_dir: Path) -> tuple[Path, Path, Path]:
    """A tiny BERT-style classifier and two different LoRA adapters (each with its own head)."""
    from transformers import AutoModelForSequenceClassification

    from kubetune.testing.tiny import make_tiny_sequence_classifier

    base = make_tiny_sequence_classifier(models_dir / "cls")
    model = AutoModelForSequenceClassification.from_pretrained(base)
    first = _lora(model, models_dir / "cls-lora", ["query", "value"], ["classifier"])
    model = AutoModelForSequenceClassification.from_pretrained(base)
    second = _lora(model, models_dir / "cls-lora-2", ["query", "value"], ["classifier"], seed=2)
    return base, first, second


@pytest.fixture(scope="session")
def tiny_image_classifier(models_dir: Path) -> Path:
    from kubetune.testing.tiny import make_tiny_image_classifier

    return make_tiny_image_classifier(models_dir / "vit", labels=("modern", "classic", "rustic"))

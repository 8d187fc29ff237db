"""The model card counts the adapter's parameters even when merged weights are written too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.runner import main

pytestmark = pytest.mark.unit


def test_card_counts_lora_parameters_after_a_merge(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    config = TrainRunConfig.model_validate({
        "baseModel": f"file://{tiny_lm}",
        "dataset": {"uri": str(chat_data), "format": "openai_chat_jsonl"},
        "output": f"file://{tmp_path / 'out'}",
        "hyperparameters": {"maxSteps": 2, "batchSize": 4, "extra": {"merge": True}},
        "reporting": {"intervalSeconds": 0.0, "terminationLog": str(tmp_path / "termination-log")},
    })
    assert main(config) == 0
    assert (tmp_path / "out" / "merged" / "config.json").is_file()
    card = (tmp_path / "out" / "README.md").read_text()
    found = re.search(r"Trainable parameters: ([\d,]+) of ([\d,]+)", card)
    assert found, card
    trainable, total = (int(n.replace(",", "")) for n in found.groups())
    # Merging folds the adapter into the base weights: counted after it, the card said 0 trainable.
    assert 0 < trainable < total

"""Causal-LM training on CPU: loss falls for LoRA and full, and a resumed run matches an uninterrupted one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.runner import run

pytestmark = pytest.mark.unit


def _config(model: Path, data: Path, out: Path, **hp: Any) -> TrainRunConfig:
    method = hp.pop("method", "lora")
    return TrainRunConfig.model_validate(
        {
            "baseModel": str(model),
            "method": method,
            "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
            "output": str(out),
            "hyperparameters": {"batchSize": 8, "learningRate": 1e-2, "maxSteps": 30, "seed": 7, **hp},
        }
    )


def _falls(losses: list[float]) -> bool:
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    return last < 0.9 * first


def test_lora_loss_falls_and_adapter_is_saved(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    result = run(_config(tiny_lm, chat_data, tmp_path / "out"))
    assert len(result.losses) == 30
    assert _falls(result.losses), result.losses
    adapter = tmp_path / "out" / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    assert (adapter / "tokenizer.json").is_file()
    card = (tmp_path / "out" / "README.md").read_text()
    assert "final_loss" in card and "loraRank" in card
    log = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == list(range(1, 31))
    assert result.summary["final_loss"] == pytest.approx(result.losses[-1])


def test_full_fine_tuning_loss_falls(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    result = run(_config(tiny_lm, chat_data, tmp_path / "out", method="full", learningRate=3e-3))
    assert _falls(result.losses), result.losses
    assert (tmp_path / "out" / "model" / "model.safetensors").is_file()


def test_resumed_run_matches_uninterrupted_run(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    # Batch 2 and accumulation 2 over 8 examples: 2 steps per epoch, so step 3 is mid-epoch.
    hp = {
        "batchSize": 2,
        "gradientAccumulationSteps": 2,
        "maxSteps": 8,
        "saveSteps": 3,
        "saveTotalLimit": 5,
        "loraDropout": 0.1,
        "warmupRatio": 0.25,
    }
    full = run(_config(tiny_lm, chat_data, tmp_path / "a", **hp))
    interrupted = tmp_path / "b"
    (interrupted / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "a" / "checkpoints" / "step-00000003", interrupted / "checkpoints" / "step-00000003")
    resumed = run(_config(tiny_lm, chat_data, interrupted, **hp))
    assert len(resumed.losses) == 5
    assert resumed.losses == pytest.approx(full.losses[3:], rel=1e-4, abs=1e-5)
    assert resumed.state == full.state

"""Failures that cannot succeed on retry exit 78 (the Job's podFailurePolicy fails at once), with the
reason in the termination log; the codes come from the operator's own module."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.crd.exit_codes import EXIT_PERMANENT, PERMANENT_EXIT_CODES, TRANSIENT_EXIT_CODES
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.runner import main

pytestmark = pytest.mark.unit


def _config(model: str, data: Path, tmp_path: Path, **hp: int) -> TrainRunConfig:
    return TrainRunConfig.model_validate(
        {
            "baseModel": model,
            "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
            "output": str(tmp_path / "out"),
            "hyperparameters": {"maxSteps": 1, **hp},
            "reporting": {"terminationLog": str(tmp_path / "termination-log")},
        }
    )


def test_codes_are_distinct_and_not_signal_deaths() -> None:
    assert not set(PERMANENT_EXIT_CODES) & set(TRANSIENT_EXIT_CODES)
    assert all(0 < code < 128 for code in (*PERMANENT_EXIT_CODES, *TRANSIENT_EXIT_CODES))


def test_a_missing_model_is_permanent(chat_data: Path, tmp_path: Path) -> None:
    assert main(_config(str(tmp_path / "no-such-model"), chat_data, tmp_path)) == EXIT_PERMANENT
    assert "no-such-model not found" in (tmp_path / "termination-log").read_text()


def test_max_seq_length_above_the_models_positions_is_permanent(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    assert main(_config(str(tiny_lm), chat_data, tmp_path, maxSeqLength=1_000_000)) == EXIT_PERMANENT
    assert "exceeds the model's" in (tmp_path / "termination-log").read_text()

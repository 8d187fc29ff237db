"""The hand-written TensorBoard event files read back with TensorBoard's own reader (a dev dependency only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.crd.tracking import TrackingSpec, run_tracking
from kubetune.train.tracking.tensorboard import DIR, _crc32c, write_events, write_for

pytestmark = pytest.mark.unit


def test_crc32c_matches_the_standard_check_value() -> None:
    assert _crc32c(b"123456789") == 0xE3069283  # CRC-32C's published check value


def test_every_step_reads_back_in_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 3.0 / s, "learning_rate": 1e-3, "epoch": s / 4, "note": "x", "bad": float("nan")}
            for s in range(1, 9)]
    rows.append({"step": 8, "eval_loss": 0.5})
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = write_events(log, tmp_path / "tb")
    assert path is not None and path.name.startswith("events.out.tfevents.")

    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == {"loss", "learning_rate", "epoch", "eval_loss"}
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == list(range(1, 9))
    assert [e.value for e in loss] == pytest.approx([3.0 / s for s in range(1, 9)], rel=1e-6)
    assert [(e.step, e.value) for e in acc.Scalars("eval_loss")] == [(8, 0.5)]


def test_only_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    log.write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    base = {"baseModel": "m", "dataset": {"uri": "file:///d", "format": "openai_chat_jsonl"}, "output": str(tmp_path)}
    plain = TrainRunConfig.model_validate(base)
    assert write_for(plain, tmp_path, log) is None and not (tmp_path / DIR).exists()
    tracking = run_tracking(TrackingSpec(tensorboard=True), "r")
    assert tracking is not None and tracking.mlflow is False
    asked = TrainRunConfig.model_validate({**base, "tracking": tracking.model_dump(by_alias=True)})
    assert write_for(asked, tmp_path, log) is not None and any((tmp_path / DIR).iterdir())

"""DPO runs end to end on CPU: held-out reward margin and accuracy rise, metrics reach the log, the
reference is the base (adapter off), checkpoints are servable adapters, a resume keeps the reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.testing.preference_data import preference_jsonl
from kubetune.train.dpo import reference
from kubetune.train.runner import run

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    (root / "train.jsonl").write_text(preference_jsonl(32))
    (root / "validation.jsonl").write_text(preference_jsonl(12, offset=60))  # questions training never sees
    return root


def _config(model: Path, data: Path, out: Path, fmt: str = "preference", **hp: Any) -> TrainRunConfig:
    method = hp.pop("method", "lora")
    return TrainRunConfig.model_validate({
        "baseModel": str(model), "method": method, "objective": "dpo",
        "dataset": {"uri": f"file://{data}", "format": fmt, "validationSplit": "validation"},
        "output": str(out),
        "hyperparameters": {"batchSize": 8, "learningRate": 5e-3, "maxSteps": 12, "seed": 3, "beta": 0.1,
                            "loraDropout": 0.0, **hp},
    })


def _log(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_short_run_raises_held_out_margin_and_accuracy(tiny_lm: Path, pairs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(_config(tiny_lm, pairs_dir, out, evalSteps=6, saveSteps=6))
    evals = [e for e in _log(out) if "eval_loss" in e]
    assert [e["step"] for e in evals] == [6, 12]
    # Before any step the policy is the reference: margin 0, loss log 2. After: the rule generalises.
    assert result.metrics["eval_rewards/margin"] > 0.5, evals
    assert result.metrics["eval_rewards/accuracy"] == 1.0, evals
    assert result.metrics["eval_loss"] < 0.5 < 0.6931
    steps = [e for e in _log(out) if "loss" in e]
    assert steps[0]["loss"] == pytest.approx(0.6931, abs=0.01)  # step 1 starts from policy == reference
    assert steps[-1]["rewards/margin"] > steps[0]["rewards/margin"]
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margin", "rewards/accuracy"):
        assert key in result.metrics
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    # Every checkpoint is also a servable adapter (training://<name>/checkpoints/<step>).
    for step in (6, 12):
        assert (out / "checkpoints" / f"step-{step:08d}" / "adapter" / "adapter_config.json").is_file()
    assert (out / reference.REFERENCE_FILE).is_file()


def test_openai_dpo_file_and_full_fine_tuning(tiny_lm: Path, tmp_path: Path) -> None:
    data = tmp_path / "pairs"
    data.mkdir()
    (data / "train.jsonl").write_text(preference_jsonl(16, fmt="openai-dpo"))
    (data / "validation.jsonl").write_text(preference_jsonl(8, offset=60, fmt="openai-dpo"))
    out = tmp_path / "out"
    result = run(_config(tiny_lm, data, out, fmt="openai-dpo", method="full", learningRate=1e-3, maxSteps=6))
    assert result.metrics["eval_rewards/margin"] > 0, result.metrics
    assert (out / "model" / "model.safetensors").is_file()


def test_resume_reads_the_saved_reference(tiny_lm: Path, pairs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run(_config(tiny_lm, pairs_dir, out, maxSteps=4, saveSteps=2))
    # A resumed run's policy has moved on: it must read the reference back, never rescore and rewrite it.
    marker = out / reference.REFERENCE_FILE
    stamp = marker.stat().st_mtime_ns
    resumed = run(_config(tiny_lm, pairs_dir, out, maxSteps=6, saveSteps=2).model_copy(update={"resume": "latest"}))
    assert marker.stat().st_mtime_ns == stamp
    assert len(resumed.losses) == 2 and len(first.losses) == 4


def test_supervised_run_refuses_preference_data(tiny_lm: Path, pairs_dir: Path, tmp_path: Path) -> None:
    config = _config(tiny_lm, pairs_dir, tmp_path / "out").model_copy(update={"objective": "supervised"})
    with pytest.raises(Exception, match="holds preference pairs: use objective dpo"):
        run(config)


def test_history_keeps_the_reward_curves_under_status_names() -> None:
    from pydantic.alias_generators import to_camel

    from kubetune.crd.training import HistoryPoint
    from kubetune.train.metrics import MetricsTracker

    tracker = MetricsTracker(None)
    tracker.record({"step": 1, "loss": 0.6, "rewards/margin": 0.2, "rewards/accuracy": 0.5, "rewards/chosen": 0.1})
    tracker.record({"step": 1, "eval_loss": 0.5, "eval_rewards/margin": 0.3, "eval_rewards/accuracy": 1.0})
    (point,) = tracker.history(10)
    assert point == {"step": 1, "loss": 0.6, "reward_margin": 0.2, "reward_accuracy": 0.5, "eval_loss": 0.5,
                     "eval_reward_margin": 0.3, "eval_reward_accuracy": 1.0}
    status = HistoryPoint.model_validate({to_camel(k): v for k, v in point.items()})
    assert (status.reward_margin, status.eval_reward_accuracy) == (0.2, 1.0)
    assert tracker.latest["rewards/chosen"] == 0.1  # every metric stays in status.metrics


def test_sigterm_checkpoints_the_step_and_a_resume_goes_on(tiny_lm: Path, pairs_dir: Path, tmp_path: Path) -> None:
    from kubetune.train.distributed.failures import Stopped
    from kubetune.train.distributed.stop import StopRequest

    out = tmp_path / "out"
    stop = StopRequest()
    stop.requested = True  # as the SIGTERM handler sets it: the loop ends after its step
    with pytest.raises(Stopped):
        run(_config(tiny_lm, pairs_dir, out, maxSteps=4), None, stop)
    assert (out / "checkpoints" / "step-00000001" / "state.json").is_file()
    resumed = run(_config(tiny_lm, pairs_dir, out, maxSteps=4))
    assert len(resumed.losses) == 3  # steps 2..4

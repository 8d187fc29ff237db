"""kubetune-train end to end: the operator's config file, overrides, status in the Training, failures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.exit_codes import EXIT_PERMANENT
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.crd.training import TRAINER_STATUS_FIELDS, TrainingStatus
from kubetune.train import cli
from kubetune.train.kubeapi import KubeApi
from kubetune.train.modeling import qlora_available
from kubetune.train.runner import main
from kubetune.train.settings import apply_overrides, load_config

pytestmark = pytest.mark.unit


def _config(tiny_lm: Path, data: Path, tmp_path: Path, **extra: object) -> TrainRunConfig:
    return TrainRunConfig.model_validate(
        {
            "training": {"namespace": "team-a", "name": "run-1"},
            "baseModel": f"file://{tiny_lm}",
            "dataset": {"uri": str(data), "format": "openai_chat_jsonl", "validationFraction": 0.25},
            "output": f"file://{tmp_path / 'out'}",
            "hyperparameters": {"maxSteps": 6, "batchSize": 4, "saveSteps": 3, "evalSteps": 3, "learningRate": 1e-2},
            "reporting": {"intervalSeconds": 0.0, "terminationLog": str(tmp_path / "termination-log")},
            **extra,
        }
    )


def _merged_status(server: Any) -> dict[str, object]:
    status: dict[str, object] = {}
    for patch in server.patches():
        status.update(patch.body["status"])
    return status


def test_run_fills_the_training_status_through_conflicts(
    tiny_lm: Path, chat_data: Path, tmp_path: Path, server: Any
) -> None:
    server.script = [409, 500]  # the first two patches fail: training must not notice
    config = _config(tiny_lm, chat_data, tmp_path)
    assert main(config, KubeApi(server.url, token="t")) == 0
    status = _merged_status(server)
    assert set(status) <= TRAINER_STATUS_FIELDS
    TrainingStatus.model_validate(status)
    assert status["progress"]["step"] == 6 and status["progress"]["percent"] == 100.0
    assert status["progress"]["steps"] == "6/6" and status["progress"]["eta"] == "0s"
    assert float(status["progress"]["loss"]) == pytest.approx(status["metrics"]["loss"], rel=1e-3)
    # Every step's input tokens counted (OpenAI's trained_tokens): at least one token per example and step.
    assert status["progress"]["tokens"] >= 6
    assert status["output"] == f"file://{tmp_path / 'out'}/adapter"
    assert status["metricsLog"] == f"file://{tmp_path / 'out'}/metrics.jsonl"
    assert [c["step"] for c in status["checkpoints"]] == [3, 6]
    assert status["summary"]["initialLoss"] > status["summary"]["finalLoss"]
    assert "bestEvalLoss" in status["summary"] and "eval_loss" in status["metrics"]
    assert [p["step"] for p in status["history"]] == list(range(1, 7))
    reasons = [r.body["reason"] for r in server.requests if r.method == "POST"]
    assert reasons[0] == "TrainingStarted" and reasons[-1] == "TrainingFinished"
    assert {"CheckpointSaved", "EvalDone"} <= set(reasons)


def test_bad_line_fails_with_a_termination_message(tiny_lm: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
        '{"messages": [{"role": "user", "content": "q"}]}\n'
    )
    config = _config(tiny_lm, data, tmp_path)
    assert main(config, None) == EXIT_PERMANENT
    reason = (tmp_path / "termination-log").read_text()
    assert reason.count("\n") == 1
    assert f"{data}:2:" in reason and "must be from the assistant" in reason


def test_qlora_without_bitsandbytes_fails_clearly(
    tiny_lm: Path, chat_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.partition(".")[0] == "bitsandbytes" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert qlora_available() is not None
    config = _config(tiny_lm, chat_data, tmp_path, method="qlora")
    assert main(config, None) == EXIT_PERMANENT
    reason = (tmp_path / "termination-log").read_text()
    assert "qlora needs the bitsandbytes package" in reason and "not installed" in reason
    assert not (tmp_path / "out" / "adapter").exists()


def test_cli_reads_the_operator_file_with_overrides(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    config = _config(tiny_lm, chat_data, tmp_path)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config.to_wire()))
    code = cli.main(
        [
            "--config",
            str(path),
            "--no-report",
            "--output",
            str(tmp_path / "cli-out"),
            "--set",
            "hyperparameters.maxSteps=2",
            "--set",
            "hyperparameters.save_steps=1",
        ]
    )
    assert code == 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "cli-out" / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2
    assert (tmp_path / "cli-out" / "adapter" / "adapter_model.safetensors").is_file()


def test_overrides_are_dotted_and_typed(tmp_path: Path) -> None:
    data = apply_overrides(
        {"hyperparameters": {"seed": 1}}, ["hyperparameters.learning_rate=0.5", "dataset.uri=x.jsonl", "resume=7"]
    )
    assert data == {"hyperparameters": {"seed": 1, "learningRate": 0.5}, "dataset": {"uri": "x.jsonl"}, "resume": 7}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        apply_overrides({}, ["nonsense"])
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("baseModel: m\noutput: o\ndataset: {uri: d, format: alpaca}\n")
    assert load_config(yaml_file, ["method=full"]).method == "full"


def test_pvc_and_file_uris_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetune.train.uris import local_path, resolve

    monkeypatch.setenv("KUBETUNE_PVC_ROOT", str(tmp_path))
    (tmp_path / "models" / "lm").mkdir(parents=True)
    assert resolve("pvc://models/lm") == tmp_path / "models" / "lm"
    assert local_path("file:///a/b") == Path("/a/b")
    with pytest.raises(ValueError, match="pvc"):
        local_path("pvc://models/../../etc")
    with pytest.raises(FileNotFoundError):
        resolve("pvc://models/missing")
    with pytest.raises(ValueError, match="scheme"):
        resolve("ftp://x/y")


def test_hf_uri_never_downloads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetune.train.uris import resolve

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-kubetune-hf-home")
    with pytest.raises(Exception, match=r"(?i)offline|local|cache|not found|cannot find"):
        resolve("hf://kubetune/not-a-real-model")


def test_inconsistent_settings_are_all_reported_before_loading(tiny_lm: Path, chat_data: Path) -> None:
    from kubetune.train.validate import check

    config = TrainRunConfig.model_validate(
        {
            "task": "sequence-classification",
            "baseModel": str(tiny_lm),
            "output": "/tmp/x",
            "dataset": {"uri": str(chat_data), "format": "openai_chat_jsonl", "dataStrategy": "two_message_cot"},
            "hyperparameters": {"evalSteps": 5, "maxSeqLength": 100000},
        }
    )
    with pytest.raises(ValueError) as info:
        check(config, tiny_lm)
    message = str(info.value)
    for expected in ("does not fit task", "no validationSplit", "causal-lm only", "exceeds the model's 512"):
        assert expected in message

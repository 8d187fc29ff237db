"""spec.tracking against MLflow's own server (SQLite backend, proxied artifact store) on loopback: after a real
training run its MLflow run holds the per-step metrics, the parameters, the model card and the adapter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from train_processes import run_config

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.localdev.mlflow import mlflow_server
from kubetune.train import outputs
from kubetune.train.runner import run

pytestmark = pytest.mark.integration
STEPS = 6


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


class Reporter:
    """Stands in for the StatusReporter: keeps the status fields and Event reasons the run sends."""

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.reasons: list[str] = []

    def update(self, fields: dict[str, object], *, urgent: bool = False) -> None:
        self.fields.update(fields)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.reasons.append(reason)

    def __getattr__(self, name: str) -> object:  # flush, close, ...: nothing to send
        return lambda *args, **kwargs: None


def test_a_run_logs_metrics_params_and_adapter_to_mlflow(mlflow: str, tiny_llama: Path, memorisable: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "tracked"
    raw = run_config(tiny_llama, memorisable, out, maxSteps=STEPS, loggingSteps=1)
    raw["tracking"] = {"mlflowUri": mlflow, "experiment": "it-tracking", "runName": "tracked-1", "tensorboard": True}
    reporter = Reporter()
    run(TrainRunConfig.model_validate(raw), reporter)  # type: ignore[arg-type]
    url = str(reporter.fields.get("trackingUrl"))
    assert url.startswith(f"{mlflow}/#/experiments/") and "TrackingFailed" not in reporter.reasons, reporter.reasons
    experiment_id, run_id = url.split("/experiments/")[1].split("/runs/")

    api = f"{mlflow}/api/2.0/mlflow"
    got = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
    assert got["info"]["status"] == "FINISHED" and got["info"]["experiment_id"] == experiment_id
    params = {p["key"]: p["value"] for p in got["data"]["params"]}
    assert params["method"] == "lora" and params["max_steps"] == str(STEPS), params
    history = httpx.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}).json()
    steps = sorted(m["step"] for m in history["metrics"])
    logged = [json.loads(line) for line in (out / outputs.METRICS_LOG).read_text().splitlines()]
    assert steps == sorted(e["step"] for e in logged if "loss" in e) and len(steps) == STEPS, steps
    listed = httpx.get(f"{api}/artifacts/list", params={"run_id": run_id}).json()
    names = {f["path"] for f in listed.get("files", [])}
    assert {outputs.MODEL_CARD, outputs.METRICS_LOG, outputs.ADAPTER_DIR} <= names, names
    card = httpx.get(f"{mlflow}/get-artifact", params={"run_id": run_id, "path": outputs.MODEL_CARD})
    assert card.status_code == 200 and card.text == (out / outputs.MODEL_CARD).read_text()
    assert any((out / "tensorboard").glob("events.out.tfevents.*"))  # spec.tracking.tensorboard, beside MLflow
    print(f"mlflow: {len(steps)} loss points, {len(params)} params, artifacts {sorted(names)} at {url}")


def test_an_unreachable_server_is_a_warning_not_a_failure(tiny_llama: Path, memorisable: Path, tmp_path: Path) -> None:
    from kubetune.train.tracking import track

    raw = run_config(tiny_llama, memorisable, tmp_path / "o", maxSteps=1)
    raw["tracking"] = {"mlflowUri": "http://127.0.0.1:9", "experiment": "x"}
    config = TrainRunConfig.model_validate(raw)
    reporter = Reporter()
    (tmp_path / "o").mkdir()
    assert track(config, tmp_path / "o", tmp_path / "o" / "adapter", reporter) is None
    assert reporter.reasons == ["TrackingFailed"] and "trackingUrl" not in reporter.fields

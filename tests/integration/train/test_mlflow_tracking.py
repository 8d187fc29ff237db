"""spec.tracking against MLflow's own server (SQLite backend, proxied artifact store) on loopback: while a real
training runs its MLflow run already holds the parameters and the steps so far; after it, every step's
metrics, the model card and the adapter."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
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
    """Stands in for the StatusReporter: keeps the status fields and Event reasons the run sends.
    With ``pause_at``, the training thread's status update at that step waits until ``probe`` is true."""

    def __init__(self, pause_at: int = 0, probe: Callable[[Reporter], bool] | None = None) -> None:
        self.fields: dict[str, object] = {}
        self.reasons: list[str] = []
        self.pause_at, self.probe, self.probe_held = pause_at, probe, False

    def update(self, fields: dict[str, object], *, urgent: bool = False) -> None:
        self.fields.update(fields)
        progress = fields.get("progress")
        if self.probe and isinstance(progress, dict) and progress.get("step") == self.pause_at:
            deadline = time.monotonic() + 120  # a bound on the wait, not a timing assertion
            while not (held := self.probe(self)) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.probe_held = held

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


def test_metrics_reach_mlflow_while_the_training_runs(mlflow: str, tiny_llama: Path, memorisable: Path,
                                                      tmp_path: Path) -> None:
    """Training pauses (inside its own status update) at step 3 of 6 until MLflow shows a RUNNING run with the
    parameters and loss points for steps already trained: logged live, not from the log after the run."""
    api = f"{mlflow}/api/2.0/mlflow"
    seen: dict[str, object] = {}

    def mlflow_has_the_first_steps(reporter: Reporter) -> bool:
        url = reporter.fields.get("trackingUrl")  # the live run's link, set before the first step's metrics
        if not isinstance(url, str):
            return False
        run_id = url.split("/runs/")[1]
        got = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
        history = httpx.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}).json()
        steps = sorted(m["step"] for m in history.get("metrics", []))
        seen.update(status=got["info"]["status"], steps=steps, params=len(got["data"].get("params", [])))
        return bool(steps)

    raw = run_config(tiny_llama, memorisable, tmp_path / "live", maxSteps=STEPS, loggingSteps=1)
    raw["tracking"] = {"mlflowUri": mlflow, "experiment": "it-live", "runName": "live-1"}
    reporter = Reporter(pause_at=3, probe=mlflow_has_the_first_steps)
    run(TrainRunConfig.model_validate(raw), reporter)  # type: ignore[arg-type]
    assert reporter.probe_held, seen
    assert seen["status"] == "RUNNING" and int(str(seen["params"])) > 10, seen
    steps = seen["steps"]
    assert isinstance(steps, list) and steps and max(steps) <= 3, seen  # only steps trained so far
    run_id = str(reporter.fields["trackingUrl"]).split("/runs/")[1]
    final = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
    history = httpx.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}).json()
    assert final["info"]["status"] == "FINISHED" and "TrackingFailed" not in reporter.reasons, reporter.reasons
    assert sorted(m["step"] for m in history["metrics"]) == list(range(1, STEPS + 1))  # each step once
    print(f"mlflow live: {seen['steps']} while paused at step 3 ({seen['status']}), {STEPS} points at the end")

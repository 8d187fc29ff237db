"""spec.tracking: the run config carries the URI and experiment, the pod gets secrets as secretKeyRefs only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubetune.crd.tracking import TrackingSpec, run_tracking, tracking_env
from kubetune.crd.training import TRAINER_STATUS_FIELDS, TrainingSpec


def spec(**tracking: object) -> TrainingSpec:
    return TrainingSpec.model_validate({"trainerRef": "t", "baseModel": "tiny", "dataset": {"uri": "file:///d.jsonl"},
                                        "tracking": tracking})


def test_uri_and_experiment_reach_the_run_config() -> None:
    s = spec(mlflow={"uri": "http://mlflow.kubetune.svc:5000", "experiment": "demo"})
    run = run_tracking(s.tracking, "run-1")
    assert run is not None and (run.mlflow_uri, run.experiment, run.run_name) == (
        "http://mlflow.kubetune.svc:5000", "demo", "run-1")
    assert tracking_env(s.tracking) == []
    assert "trackingUrl" in TRAINER_STATUS_FIELDS


def test_secrets_reach_the_pod_as_references_only() -> None:
    s = spec(mlflow={"uriSecret": {"name": "mlflow", "key": "uri"}, "credentialsSecret": "mlflow-creds"})
    env = tracking_env(s.tracking)
    assert env[0] == {"name": "MLFLOW_TRACKING_URI", "valueFrom": {"secretKeyRef": {"name": "mlflow", "key": "uri"}}}
    assert {e["name"] for e in env[1:]} == {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                                            "MLFLOW_TRACKING_TOKEN"}
    assert all("value" not in e for e in env)
    run = run_tracking(s.tracking, "r")
    assert run is not None and run.mlflow_uri is None


def test_no_tracking_means_nothing() -> None:
    assert run_tracking(None, "r") is None and tracking_env(TrackingSpec()) == []


@pytest.mark.parametrize("uri", ["ftp://x", "mlflow server", ""])
def test_bad_uri_is_refused(uri: str) -> None:
    with pytest.raises(ValidationError):
        spec(mlflow={"uri": uri})

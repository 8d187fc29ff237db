"""Entrypoint parsing, REST paths and metrics exposition."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from kubetune.operator.kube import ApiError, path_of
from kubetune.operator.main import parse_args
from kubetune.operator.metrics import Metrics


def test_flags_override_settings() -> None:
    settings = parse_args(["--kubeconfig", "/k", "-n", "a", "-n", "b", "--no-leader-election", "--log-format", "text"])
    assert (settings.kubeconfig, settings.namespaces) == ("/k", ["a", "b"])
    assert settings.leader_election is False and settings.log_format == "text"
    assert parse_args([]).leader_election is True


def test_rest_paths() -> None:
    assert path_of("v1", "ConfigMap", "ns", "x") == "/api/v1/namespaces/ns/configmaps/x"
    assert path_of("batch/v1", "Job", "ns") == "/apis/batch/v1/namespaces/ns/jobs"
    assert path_of("kubetune.io/v1alpha1", "Trainer", None, "t") == "/apis/kubetune.io/v1alpha1/trainers/t"
    assert path_of("kubetune.io/v1alpha1", "Training", "ns", "t", "status") == (
        "/apis/kubetune.io/v1alpha1/namespaces/ns/trainings/t/status"
    )


def test_api_errors_know_what_is_worth_retrying() -> None:
    assert ApiError(429, "TooManyRequests").transient
    assert ApiError(503, "Unavailable").transient
    assert not ApiError(422, "Invalid").transient
    assert not ApiError(403, "Forbidden").transient


def test_metrics_count_reconciliations_errors_and_phases() -> None:
    metrics = Metrics()
    with metrics.reconcile("Training"):
        pass
    with pytest.raises(ValueError), metrics.reconcile("Training"):
        raise ValueError("boom")
    metrics.phases.set("Training", "ns", "a", "Running")
    metrics.phases.set("Training", "ns", "b", "Running")
    metrics.phases.forget("Training", "ns", "b")
    text = generate_latest(metrics.registry).decode()
    assert 'kubetune_operator_reconciliations_total{kind="Training",result="ok"} 1.0' in text
    assert 'kubetune_operator_errors_total{kind="Training",type="ValueError"} 1.0' in text
    assert 'kubetune_operator_objects{kind="Training",phase="Running"} 1.0' in text
    assert "kubetune_operator_reconcile_duration_seconds_count" in text

"""Project quotas: the ResourceQuota and LimitRange builders, overrides, and QuotaExceeded as a phase."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_training_phases import job, pod

from kubetune.operator.builders.quota import (
    ContainerDefaults,
    ProjectQuota,
    QuotaLimits,
    build_limit_range,
    build_resource_quota,
    project_objects,
    quota_refusal,
)
from kubetune.operator.phases import training_conditions, training_state
from kubetune.operator.settings import Settings

REFUSED = ('Error creating: pods "t-train-x" is forbidden: exceeded quota: kubetune-project, requested: '
           "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1")
CHART = ProjectQuota(limits=QuotaLimits(gpus=4, pods=20, cpu="32", memory="128Gi", storage="1Ti"))


def override(raw: str) -> dict[str, Any]:
    return {"metadata": {"name": "kubetune-quota-kt-alice"}, "data": {"limits": raw}}


def test_resource_quota_names_every_set_limit() -> None:
    quota = build_resource_quota("kt-alice", CHART.limits)
    assert quota is not None
    assert quota["metadata"] == {"name": "kubetune-project", "namespace": "kt-alice",
                                 "labels": {"app.kubernetes.io/managed-by": "kubetune-operator"}}
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": "4", "pods": "20", "requests.cpu": "32",
                                     "requests.memory": "128Gi", "requests.storage": "1Ti"}


def test_no_override_is_the_chart() -> None:
    objects, warning = project_objects("kt-alice", CHART, None)
    assert warning is None and objects[0]["spec"]["hard"]["requests.nvidia.com/gpu"] == "4"
    assert [o["kind"] for o in objects] == ["ResourceQuota", "LimitRange"]


def test_nothing_limited_means_no_objects() -> None:
    assert build_resource_quota("kt-alice", QuotaLimits()) is None
    assert build_limit_range("kt-alice", ContainerDefaults(cpu=None, memory=None)) is None


def test_limit_range_gives_containers_default_requests() -> None:
    limit_range = build_limit_range("kt-alice", ContainerDefaults())
    assert limit_range is not None
    assert limit_range["spec"] == {"limits": [{"type": "Container",
                                               "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}]}


def test_an_admin_override_replaces_only_what_it_sets() -> None:
    objects, warning = project_objects("kt-alice", CHART, override(json.dumps({"gpus": 1, "pods": None})))
    assert warning is None
    hard = objects[0]["spec"]["hard"]
    assert hard["requests.nvidia.com/gpu"] == "1" and "pods" not in hard and hard["requests.cpu"] == "32"


@pytest.mark.parametrize("raw", ["not json", json.dumps({"gpus": -1}), json.dumps({"gpu": 1})])
def test_a_bad_override_keeps_the_chart_defaults(raw: str) -> None:
    objects, warning = project_objects("kt-alice", CHART, override(raw))
    assert warning is not None and "kubetune-quota-kt-alice" in warning
    assert objects[0]["spec"]["hard"]["requests.nvidia.com/gpu"] == "4"


def test_settings_read_the_chart_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_OPERATOR_PROJECT_QUOTA", json.dumps(
        {"limits": {"gpus": 2, "persistentVolumeClaims": 5}, "defaultRequests": {"cpu": "250m"}}))
    quota = Settings().project_quota
    assert quota is not None and quota.limits.gpus == 2 and quota.limits.persistent_volume_claims == 5
    assert quota.default_requests.cpu == "250m" and quota.default_requests.memory == "256Mi"


def test_only_quota_refusals_of_jobs_count() -> None:
    event = {"reason": "FailedCreate", "involvedObject": {"kind": "Job", "name": "t-train"}, "message": REFUSED}
    assert quota_refusal(event) == REFUSED
    assert quota_refusal({**event, "message": "pods is forbidden: something else"}) is None
    assert quota_refusal({**event, "involvedObject": {"kind": "ReplicaSet"}}) is None
    assert quota_refusal({**event, "reason": "SuccessfulCreate"}) is None


def test_a_refused_pod_is_queued_for_quota_not_failed() -> None:
    state = training_state(job(), [], quota_refusal=REFUSED)
    assert (state.phase, state.reason) == ("Queued", "QuotaExceeded")
    assert "exceeded quota" in state.message
    queued = next(c for c in training_conditions(state, 1) if c["type"] == "Queued")
    assert queued["status"] == "True" and queued["reason"] == "QuotaExceeded"


def test_once_the_pod_exists_the_refusal_no_longer_decides() -> None:
    running = pod(state={"running": {"startedAt": "2026-01-01T00:00:02Z"}}, phase="Running")
    assert training_state(job(active=1), [running], quota_refusal=REFUSED).phase == "Running"

"""kueue.enabled: the operator may read and (de)activate Kueue Workloads, and is told it may use queues."""

from __future__ import annotations

from typing import Any

import pytest
from chart_helpers import Render, one

pytestmark = pytest.mark.unit

OPERATOR = "kt-kubetune-operator"


def _workload_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in one(objects, "ClusterRole", OPERATOR)["rules"] if "kueue.x-k8s.io" in r["apiGroups"]]


def _env(objects: list[dict[str, Any]]) -> dict[str, Any]:
    container = one(objects, "Deployment", OPERATOR)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_off_by_default_no_kueue_access_and_no_queues(render: Render) -> None:
    objects = render()
    assert _workload_rules(objects) == []
    assert "KUBETUNE_OPERATOR_KUEUE_ENABLED" not in _env(objects)


def test_enabled_grants_exactly_the_workload_calls_of_handlers_queue_status(render: Render) -> None:
    objects = render({"kueue.enabled": "true"})
    # kueue_workloads.py: LIST a namespace's Workloads, PATCH spec.active; nothing on Kueue's other kinds.
    assert _workload_rules(objects) == [
        {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads"], "verbs": ["get", "list", "patch"]}]
    assert _env(objects)["KUBETUNE_OPERATOR_KUEUE_ENABLED"] == "true"

"""spec.autoscaling with a real KEDA (built from its pinned Go module, hack/keda) on the local control plane:
the operator renders a ScaledObject instead of its own HPA, KEDA accepts it and makes its HPA on the
servers' metric, and scale to zero pauses the ScaledObject at 0 (KEDA says Paused) until a request's
annotation wakes the service.

keda-metrics-apiserver does not run here (hack/kubetune/localdev/keda.py says why), so the HPA KEDA makes
cannot read its external metric: load-driven scaling is the real cluster's test
(tests/e2e/test_autoscaling_keda_cluster.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import operator_settings
from kubernetes import client
from operator_waits import Obj, Resources, wait_for

from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.keda import Keda
from kubetune.localdev.node.agent import NodeAgent
from kubetune.operator.inprocess import OperatorThread

KEDA = ("keda.sh", "v1alpha1")


@pytest.fixture(scope="module")
def keda(control_plane: ControlPlane) -> Iterator[Keda]:
    with Keda.start(control_plane) as running:
        yield running


@pytest.fixture(scope="module")
def operator(keda: Keda, control_plane: ControlPlane, artifacts: Path,
             operator_node: NodeAgent) -> Iterator[OperatorThread]:
    """This module's operator starts once KEDA's CRDs are in (the operator looks for them)."""
    with OperatorThread(operator_settings(control_plane, artifacts)) as op:
        yield op


def _condition(obj: Obj, kind: str) -> Obj:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def test_keda_scales_the_server_through_the_operators_scaled_object(
        operator: OperatorThread, keda: Keda, resources: Resources, api_client: client.ApiClient,
        namespace: str, artifacts: Path) -> None:
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "kedaed"},
            "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"}, "auth": "none",
                     "autoscaling": {"maxReplicas": 3, "targetConcurrency": 2, "scaleToZero": True,
                                     "idleSeconds": 10}}}
    resources.create("inferenceservices", namespace, body)
    custom = client.CustomObjectsApi(api_client)
    scaled = wait_for(custom.list_namespaced_custom_object,
                      lambda o: _condition(o, "Ready").get("status") == "True", *KEDA, namespace, "scaledobjects",
                      timeout=120)
    assert scaled["metadata"]["name"] == "kedaed-server"
    assert scaled["metadata"]["ownerReferences"][0]["name"] == "kedaed"
    trigger = scaled["spec"]["triggers"][0]
    assert (trigger["type"], trigger["metadata"]["targetValue"]) == ("metrics-api", "2")
    scaling = client.AutoscalingV2Api(api_client)
    hpa = wait_for(scaling.list_namespaced_horizontal_pod_autoscaler,
                   lambda h: h["metadata"]["name"] == "keda-hpa-kedaed-server", namespace, timeout=120)
    assert hpa["spec"]["maxReplicas"] == 3
    assert hpa["spec"]["metrics"][0]["type"] == "External"  # KEDA's, on the servers' own metric
    names = [h.metadata.name for h in scaling.list_namespaced_horizontal_pod_autoscaler(namespace).items]
    assert "kedaed-server" not in names  # never the operator's own HPA beside KEDA's

    resources.wait_phase("inferenceservices", namespace, "kedaed", "Ready", timeout=180)
    resources.wait_phase("inferenceservices", namespace, "kedaed", "ScaledToZero", timeout=120)
    paused = wait_for(custom.list_namespaced_custom_object,
                      lambda o: _condition(o, "Paused").get("status") == "True", *KEDA, namespace, "scaledobjects",
                      timeout=120)
    assert paused["metadata"]["annotations"]["autoscaling.keda.sh/paused-replicas"] == "0"

    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    resources.patch("inferenceservices", namespace, "kedaed", {"metadata": {"annotations": {
        LAST_REQUEST_ANNOTATION: now}}})
    resumed = wait_for(custom.list_namespaced_custom_object,
                       lambda o: _condition(o, "Paused").get("status") == "False", *KEDA, namespace, "scaledobjects",
                       timeout=120)
    assert "autoscaling.keda.sh/paused-replicas" not in (resumed["metadata"].get("annotations") or {})
    awake = resources.wait_phase("inferenceservices", namespace, "kedaed", "Ready", timeout=180)
    assert awake["status"]["readyReplicas"] >= 1

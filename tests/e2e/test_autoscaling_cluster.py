"""Load-driven autoscaling on a real cluster: generation traffic through the facade makes an
InferenceService's server busy, metrics-server measures its CPU from the kubelet's cgroups, and the
operator's HorizontalPodAutoscaler (the fallback where KEDA is not installed) adds a replica that
loads the model and serves.

When the load stops, the HPA removes the extra replica after the spec's scale-down window (30 s here
instead of Kubernetes' 300 s). Needs a resource metrics API in the cluster (`make e2e-cluster`'s cluster
runs metrics-server; docs/real-cluster.md).
"""

from __future__ import annotations

from typing import Any

import pytest
from cluster_resilience import project_namespace
from cluster_serving import (
    generation_load,
    serve_autoscaled,
    wait_deployment_replicas,
    wait_ready_replicas,
    write_project_model,
)
from cluster_target import ClusterTarget
from kube_waits import wait_for
from kubernetes import client

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
NAME = "busy-llama"
TARGET_CPU = 50  # percent of the server's CPU request
SCALE_DOWN_SECONDS = 30  # instead of Kubernetes' 300 s, so that scaling in is seen too


def _hpa_scaled(hpa: Obj) -> bool:
    return int((hpa.get("status") or {}).get("desiredReplicas") or 0) >= 2


def test_generation_load_scales_the_server_out_through_the_operators_hpa(
        target: ClusterTarget, api: client.ApiClient) -> None:
    registration = client.ApiregistrationV1Api(api).read_api_service("v1beta1.metrics.k8s.io")
    assert any(c.type == "Available" and c.status == "True" for c in registration.status.conditions), (
        "the cluster has no working resource metrics API (metrics-server); the HPA cannot read CPU")
    scaling = client.AutoscalingV2Api(api)
    with project_namespace(target, api, "e2e-hpa") as project:
        serve_autoscaled(api, project, NAME, write_project_model(target, api, project), {
            "minReplicas": 1, "maxReplicas": 2, "targetCpuUtilization": TARGET_CPU,
            "scaleDownStabilizationSeconds": SCALE_DOWN_SECONDS})
        # No KEDA in this cluster: the operator's fallback is an HPA on CPU, and no ScaledObject.
        hpa = scaling.read_namespaced_horizontal_pod_autoscaler(f"{NAME}-server", project)
        assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 2)
        assert hpa.spec.metrics[0].resource.target.average_utilization == TARGET_CPU
        assert hpa.spec.behavior.scale_down.stabilization_window_seconds == SCALE_DOWN_SECONDS

        with generation_load(target, NAME) as answers:
            scaled = wait_for(scaling.list_namespaced_horizontal_pod_autoscaler, _hpa_scaled, project,
                              field_selector=f"metadata.name={NAME}-server", timeout=300)
            # The second replica loads the model and passes /readyz while the load goes on.
            served = wait_ready_replicas(api, project, NAME, 2)

        # The controller scaled on a CPU figure it read, above the target, not on a guess.
        status = scaled["status"]
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["ScalingActive"]["status"] == "True", conditions
        assert conditions["ScalingActive"]["reason"] == "ValidMetricFound", conditions
        cpu = next(m["resource"]["current"] for m in status["currentMetrics"] if m["type"] == "Resource")
        assert cpu["averageUtilization"] > TARGET_CPU, status
        assert served["status"]["phase"] == "Ready"
        # Every request was answered: scaling out lost none.
        assert answers and set(answers) == {200}, sorted(set(answers))

        # Load gone: once the CPU figure has stayed low for the window, the HPA removes the extra replica.
        wait_deployment_replicas(api, project, NAME, 1)
        # The controller scales first and writes its status after: its own figure follows.
        wait_for(scaling.list_namespaced_horizontal_pod_autoscaler,
                 lambda h: (h.get("status") or {}).get("desiredReplicas") == 1, project,
                 field_selector=f"metadata.name={NAME}-server", timeout=60)

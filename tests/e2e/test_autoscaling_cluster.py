"""Load-driven autoscaling on a real cluster: generation traffic through the facade makes an
InferenceService's server busy, metrics-server measures its CPU from the kubelet's cgroups, and the
operator's HorizontalPodAutoscaler (the fallback where KEDA is not installed) adds a replica that
loads the model and serves.

When the load stops, the HPA removes the extra replica after the spec's scale-down window (30 s here
instead of Kubernetes' 300 s). Needs a resource metrics API in the cluster (`make e2e-cluster`'s cluster
runs metrics-server; docs/real-cluster.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cluster_resilience import project_namespace
from cluster_target import ClusterTarget, run_store_job
from kube_waits import wait_for
from kubernetes import client

from kubetune.crd import GROUP, VERSION

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
NAME = "busy-llama"
TARGET_CPU = 50  # percent of the server's CPU request
SCALE_DOWN_SECONDS = 30  # instead of Kubernetes' 300 s, so that scaling in is seen too


@pytest.fixture(scope="module")
def target() -> ClusterTarget:
    return ClusterTarget.from_env()


@pytest.fixture(scope="module")
def api(target: ClusterTarget) -> Iterator[client.ApiClient]:
    with target.api_client() as api_client:
        yield api_client


def _write_project_model(target: ClusterTarget, api: client.ApiClient, project: str) -> str:
    """The tiny Llama-style model in the project's own prefix of the store; its file:// uri."""
    path = f"{target.artifact_mount}/{project}/models/tiny"
    script = f"from kubetune.testing.tiny import make_tiny_causal_lm; make_tiny_causal_lm({path!r})"
    run_store_job(target, api, "e2e-hpa-model", script, env={"HF_HUB_OFFLINE": "1"})
    return f"file://{path}"


def _hpa_scaled(hpa: Obj) -> bool:
    status = hpa.get("status") or {}
    return int(status.get("desiredReplicas") or 0) >= 2


def _generate_until(stop: threading.Event, http: httpx.Client, model_id: str, answers: list[int]) -> None:
    while not stop.is_set():
        # A new prompt each time: no cache anywhere can answer for the model.
        response = http.post("/api/v1/inference/generate", json={
            "model_id": model_id, "prompt": f"Count with me: {len(answers)} {threading.get_ident()}",
            "max_tokens": 64, "temperature": 0})
        answers.append(response.status_code)


def test_generation_load_scales_the_server_out_through_the_operators_hpa(
        target: ClusterTarget, api: client.ApiClient) -> None:
    registration = client.ApiregistrationV1Api(api).read_api_service("v1beta1.metrics.k8s.io")
    assert any(c.type == "Available" and c.status == "True" for c in registration.status.conditions), (
        "the cluster has no working resource metrics API (metrics-server); the HPA cannot read CPU")
    custom = client.CustomObjectsApi(api)
    scaling = client.AutoscalingV2Api(api)
    with project_namespace(target, api, "e2e-hpa") as project:
        model_uri = _write_project_model(target, api, project)
        custom.create_namespaced_custom_object(GROUP, VERSION, project, "inferenceservices", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService",
            "metadata": {"name": NAME, "labels": {"kubetune.io/project": project}},
            "spec": {"task": "causal-lm", "model": {"baseModel": model_uri},
                     # A small request, so that one busy server is far above the target.
                     "resources": {"gpus": 0, "cpu": "100m", "memory": "1Gi"},
                     "limits": {"maxConcurrent": 4, "queueSize": 16, "timeoutSeconds": 60},
                     "cache": {"enabled": False},  # every request must reach the model
                     "autoscaling": {"minReplicas": 1, "maxReplicas": 2, "targetCpuUtilization": TARGET_CPU,
                                     "scaleDownStabilizationSeconds": SCALE_DOWN_SECONDS}},
        })
        wait_for(custom.list_namespaced_custom_object, lambda o: (o.get("status") or {}).get("phase") == "Ready",
                 GROUP, VERSION, project, "inferenceservices", field_selector=f"metadata.name={NAME}", timeout=600)
        # No KEDA in this cluster: the operator's fallback is an HPA on CPU, and no ScaledObject.
        hpa = scaling.read_namespaced_horizontal_pod_autoscaler(f"{NAME}-server", project)
        assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 2)
        assert hpa.spec.metrics[0].resource.target.average_utilization == TARGET_CPU
        assert hpa.spec.behavior.scale_down.stabilization_window_seconds == SCALE_DOWN_SECONDS

        headers = {"Authorization": f"Bearer {target.admin_token()}"}
        with httpx.Client(base_url=target.api_url, headers=headers, timeout=120) as http:
            models = http.get("/api/v1/inference/models").json()["models"]
            ours = [m["id"] for m in models if m["id"].endswith(f"/{NAME}") and m["status"] == "ready"]
            assert ours, models
            stop, answers = threading.Event(), list[int]()
            clients = [threading.Thread(target=_generate_until, args=(stop, http, ours[0], answers), daemon=True)
                       for _ in range(4)]
            for thread in clients:
                thread.start()
            try:
                scaled = wait_for(scaling.list_namespaced_horizontal_pod_autoscaler, _hpa_scaled, project,
                                  field_selector=f"metadata.name={NAME}-server", timeout=300)
                # The second replica loads the model and passes /readyz while the load goes on.
                served = wait_for(custom.list_namespaced_custom_object,
                                  lambda o: (o.get("status") or {}).get("readyReplicas") == 2,
                                  GROUP, VERSION, project, "inferenceservices",
                                  field_selector=f"metadata.name={NAME}", timeout=600)
            finally:
                stop.set()
                for thread in clients:
                    thread.join(timeout=180)

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
        apps = client.AppsV1Api(api)
        wait_for(apps.list_namespaced_deployment, lambda d: d["spec"].get("replicas") == 1, project,
                 field_selector=f"metadata.name={NAME}-server", timeout=300)
        calm = scaling.read_namespaced_horizontal_pod_autoscaler(f"{NAME}-server", project)
        assert calm.status.desired_replicas == 1

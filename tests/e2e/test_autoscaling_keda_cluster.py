"""Load-driven autoscaling through KEDA on a real cluster: KEDA's operator and metrics adapter (built from
the pinned module, hack/keda) run as pods, the adapter behind the aggregated `external.metrics.k8s.io`;
the operator renders a ScaledObject whose metrics-api trigger sums the servers' own
`kubetune_serve_active_requests` over every ready pod (with the service's key), and requests in flight
through the facade make KEDA's HPA add a replica, then remove it once they stop.

Collected when the cluster offers KEDA's manifests (KUBETUNE_E2E_KEDA_MANIFESTS, written by
`hack/cluster/up.sh --keda`, which `make e2e-cluster` uses): this module installs KEDA, and removes it
again so that the other modules see a cluster without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_resilience import project_namespace
from cluster_target import ClusterTarget, run_store_job
from kube_waits import wait_for, wait_gone
from kubernetes import client

from kubetune.crd import GROUP, VERSION

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
NAME = "queue-llama"
KEDA = ("keda.sh", "v1alpha1")
SCALE_DOWN_SECONDS = 30


@pytest.fixture(scope="module")
def target() -> ClusterTarget:
    return ClusterTarget.from_env()


@pytest.fixture(scope="module")
def api(target: ClusterTarget) -> Iterator[client.ApiClient]:
    with target.api_client() as api_client:
        yield api_client


def _kubectl(target: ClusterTarget, *args: str) -> None:
    kubectl = os.environ.get("KUBETUNE_E2E_KUBECTL", "kubectl")
    done = subprocess.run([kubectl, "--kubeconfig", target.kubeconfig, *args], capture_output=True, text=True)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr or done.stdout}"


@pytest.fixture(scope="module")
def keda(target: ClusterTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """KEDA installed from the cluster's manifests; removed afterwards in reverse order (the APIService and
    the pods first, the CRDs last, so nothing waits on a finalizer KEDA is no longer there to remove)."""
    manifests = Path(os.environ["KUBETUNE_E2E_KEDA_MANIFESTS"])
    _kubectl(target, "apply", "--server-side", "--force-conflicts", "-f", str(manifests))
    try:
        for deployment in ("keda-operator", "keda-metrics-apiserver"):
            _kubectl(target, "-n", "keda", "wait", "--for=condition=Available", f"deployment/{deployment}",
                     "--timeout=300s")
        _kubectl(target, "wait", "--for=condition=Available", "apiservice/v1beta1.external.metrics.k8s.io",
                 "--timeout=180s")
        yield
    finally:
        listed = json.loads(manifests.read_text())
        reverse = tmp_path_factory.mktemp("keda") / "keda-reversed.json"
        reverse.write_text(json.dumps({**listed, "items": listed["items"][::-1]}))
        _kubectl(target, "delete", "--ignore-not-found", "--wait=true", "--timeout=300s", "-f", str(reverse))


def _write_project_model(target: ClusterTarget, api: client.ApiClient, project: str) -> str:
    path = f"{target.artifact_mount}/{project}/models/tiny"
    script = f"from kubetune.testing.tiny import make_tiny_causal_lm; make_tiny_causal_lm({path!r})"
    run_store_job(target, api, "e2e-keda-model", script, env={"HF_HUB_OFFLINE": "1"})
    return f"file://{path}"


def _quantity(value: str) -> float:
    """An HPA's metric value ("2", "1500m") as a number."""
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def _ready(obj: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _generate_until(stop: threading.Event, http: httpx.Client, model_id: str, answers: list[int]) -> None:
    while not stop.is_set():
        response = http.post("/api/v1/inference/generate", json={
            "model_id": model_id, "prompt": f"Count with me: {len(answers)} {threading.get_ident()}",
            "max_tokens": 64, "temperature": 0})
        answers.append(response.status_code)


def test_requests_in_flight_scale_the_server_out_and_in_through_keda(
        target: ClusterTarget, api: client.ApiClient, keda: None) -> None:
    custom = client.CustomObjectsApi(api)
    scaling = client.AutoscalingV2Api(api)
    apps = client.AppsV1Api(api)
    with project_namespace(target, api, "e2e-keda") as project:
        model_uri = _write_project_model(target, api, project)
        custom.create_namespaced_custom_object(GROUP, VERSION, project, "inferenceservices", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService",
            "metadata": {"name": NAME, "labels": {"kubetune.io/project": project}},
            "spec": {"task": "causal-lm", "model": {"baseModel": model_uri},
                     "resources": {"gpus": 0, "cpu": "100m", "memory": "1Gi"},
                     "limits": {"maxConcurrent": 4, "queueSize": 16, "timeoutSeconds": 60},
                     "cache": {"enabled": False},  # every request must reach the model
                     "autoscaling": {"minReplicas": 1, "maxReplicas": 2, "targetConcurrency": 1,
                                     "scaleDownStabilizationSeconds": SCALE_DOWN_SECONDS}},
        })
        wait_for(custom.list_namespaced_custom_object, lambda o: (o.get("status") or {}).get("phase") == "Ready",
                 GROUP, VERSION, project, "inferenceservices", field_selector=f"metadata.name={NAME}", timeout=600)
        # KEDA arrived just now: the operator notices within two minutes (once a minute it looks for KEDA,
        # and once a minute it renders the autoscaler again) and swaps its HPA for a ScaledObject.
        scaled = wait_for(custom.list_namespaced_custom_object, _ready, *KEDA, project, "scaledobjects",
                          field_selector=f"metadata.name={NAME}-server", timeout=240)
        trigger = scaled["spec"]["triggers"][0]
        assert trigger["type"] == "metrics-api" and trigger["metadata"]["aggregationType"] == "sum", trigger
        assert trigger["authenticationRef"] == {"name": f"{NAME}-server"}  # the servers ask for a key
        wait_gone(scaling.list_namespaced_horizontal_pod_autoscaler, f"{NAME}-server", project, timeout=60)
        assert scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"] == {
            "stabilizationWindowSeconds": SCALE_DOWN_SECONDS}

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
                # KEDA's HPA: the external metric (the fleet's requests in flight, read from every pod) over
                # one per replica.
                hpa = wait_for(scaling.list_namespaced_horizontal_pod_autoscaler,
                               lambda h: int((h.get("status") or {}).get("desiredReplicas") or 0) >= 2, project,
                               field_selector=f"metadata.name=keda-hpa-{NAME}-server", timeout=300)
                served = wait_for(custom.list_namespaced_custom_object,
                                  lambda o: (o.get("status") or {}).get("readyReplicas") == 2,
                                  GROUP, VERSION, project, "inferenceservices",
                                  field_selector=f"metadata.name={NAME}", timeout=600)
            finally:
                stop.set()
                for thread in clients:
                    thread.join(timeout=180)

        # It scaled on a figure read from the pods, above one request in flight per replica.
        external = next(m["external"] for m in hpa["status"]["currentMetrics"] if m["type"] == "External")
        assert _quantity(external["current"]["averageValue"]) > 1, external
        assert served["status"]["phase"] == "Ready"
        assert answers and set(answers) == {200}, sorted(set(answers))
        # No requests: the sum falls to 0 and, after the window, KEDA's HPA goes back to one replica.
        wait_for(apps.list_namespaced_deployment, lambda d: d["spec"].get("replicas") == 1, project,
                 field_selector=f"metadata.name={NAME}-server", timeout=300)
        # The ScaledObject (KEDA's finalizer on it) goes with the InferenceService, before KEDA is removed.
        custom.delete_namespaced_custom_object(GROUP, VERSION, project, "inferenceservices", NAME)
        wait_gone(custom.list_namespaced_custom_object, f"{NAME}-server", *KEDA, project, "scaledobjects",
                  timeout=120)

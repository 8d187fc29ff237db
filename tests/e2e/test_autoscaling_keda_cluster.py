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
from collections.abc import Iterator
from pathlib import Path
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
from kube_waits import wait_for, wait_gone
from kubernetes import client

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
NAME = "queue-llama"
KEDA = ("keda.sh", "v1alpha1")
SCALE_DOWN_SECONDS = 30


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
        # KEDA's objects first, while its operator still runs to remove its finalizers from them (a project
        # namespace being deleted, or a CRD, would otherwise wait on them for ever).
        _kubectl(target, "delete", "scaledobjects.keda.sh,triggerauthentications.keda.sh", "--all", "-A",
                 "--wait=true", "--timeout=180s")
        listed = json.loads(manifests.read_text())
        reverse = tmp_path_factory.mktemp("keda") / "keda-reversed.json"
        reverse.write_text(json.dumps({**listed, "items": listed["items"][::-1]}))
        _kubectl(target, "delete", "--ignore-not-found", "--wait=true", "--timeout=300s", "-f", str(reverse))


def _quantity(value: str) -> float:
    """An HPA's metric value ("2", "1500m") as a number."""
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def _ready(obj: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def test_requests_in_flight_scale_the_server_out_and_in_through_keda(
        target: ClusterTarget, api: client.ApiClient, keda: None) -> None:
    custom = client.CustomObjectsApi(api)
    scaling = client.AutoscalingV2Api(api)
    with project_namespace(target, api, "e2e-keda") as project:
        serve_autoscaled(api, project, NAME, write_project_model(target, api, project), {
            "minReplicas": 1, "maxReplicas": 2, "targetConcurrency": 1,
            "scaleDownStabilizationSeconds": SCALE_DOWN_SECONDS})
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

        with generation_load(target, NAME) as answers:
            # KEDA's HPA: the external metric (the fleet's requests in flight, read from every pod) over one
            # per replica.
            hpa = wait_for(scaling.list_namespaced_horizontal_pod_autoscaler,
                           lambda h: int((h.get("status") or {}).get("desiredReplicas") or 0) >= 2, project,
                           field_selector=f"metadata.name=keda-hpa-{NAME}-server", timeout=300)
            served = wait_ready_replicas(api, project, NAME, 2)

        # It scaled on a figure read from the pods, above one request in flight per replica.
        external = next(m["external"] for m in hpa["status"]["currentMetrics"] if m["type"] == "External")
        assert _quantity(external["current"]["averageValue"]) > 1, external
        assert served["status"]["phase"] == "Ready"
        assert answers and set(answers) == {200}, sorted(set(answers))
        # No requests: the sum falls to 0 and, after the window, KEDA's HPA goes back to one replica.
        wait_deployment_replicas(api, project, NAME, 1)

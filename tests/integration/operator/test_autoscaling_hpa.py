"""spec.autoscaling on the real control plane: the operator's HPA acted on by kube-controller-manager's
HPA controller, and scale to zero and back from the last-request annotation (the facade's write).

The local control plane has no metrics API (no metrics-server), so the HPA's CPU metric cannot be read:
what is tested for real is that the HPA controller owns replicas inside the bounds and says why it cannot
scale on CPU (docs/inference.md, "Autoscaling").
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kubernetes import client
from operator_waits import Obj, Resources, wait_for

from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION
from kubetune.operator.inprocess import OperatorThread


def _isvc(name: str, artifacts: Path, namespace: str, autoscaling: Obj) -> Obj:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"}, "auth": "none",
                     "autoscaling": autoscaling}}


def _replicas(name: str, count: int) -> object:
    return lambda d: d["metadata"]["name"] == name and d["spec"].get("replicas") == count


def test_the_hpa_controller_keeps_the_server_within_the_bounds(
        operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
        artifacts: Path) -> None:
    resources.create("inferenceservices", namespace, _isvc("scaled", artifacts, namespace,
                                                           {"minReplicas": 1, "maxReplicas": 2}))
    resources.wait_phase("inferenceservices", namespace, "scaled", "Ready", timeout=180)
    scaling = client.AutoscalingV2Api(api_client)
    hpa = scaling.read_namespaced_horizontal_pod_autoscaler("scaled-server", namespace)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 2)
    assert hpa.metadata.owner_references[0].name == "scaled"

    apps = client.AppsV1Api(api_client)
    apps.patch_namespaced_deployment_scale("scaled-server", namespace, {"spec": {"replicas": 4}})
    # kube-controller-manager's HPA controller (not the operator) brings it back under maxReplicas.
    wait_for(apps.list_namespaced_deployment, _replicas("scaled-server", 2), namespace, timeout=120)
    hpa_obj = wait_for(scaling.list_namespaced_horizontal_pod_autoscaler,
                       lambda h: any(c["type"] == "ScalingActive" for c in h.get("status", {}).get("conditions") or []),
                       namespace, timeout=120)
    active = next(c for c in hpa_obj["status"]["conditions"] if c["type"] == "ScalingActive")
    assert active["status"] == "False"  # no metrics API here: it says so rather than guessing
    assert active["reason"].startswith("FailedGet"), active


def test_an_idle_service_scales_to_zero_and_the_last_request_annotation_wakes_it(
        operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
        artifacts: Path) -> None:
    resources.create("inferenceservices", namespace, _isvc("sleepy", artifacts, namespace,
                                                           {"scaleToZero": True, "idleSeconds": 10}))
    resources.wait_phase("inferenceservices", namespace, "sleepy", "Ready", timeout=180)
    asleep = resources.wait_phase("inferenceservices", namespace, "sleepy", "ScaledToZero", timeout=120)
    assert "next request" in asleep["status"]["message"]
    apps = client.AppsV1Api(api_client)
    assert apps.read_namespaced_deployment("sleepy-server", namespace).spec.replicas == 0

    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    resources.patch("inferenceservices", namespace, "sleepy", {"metadata": {"annotations": {
        LAST_REQUEST_ANNOTATION: now}}})
    wait_for(apps.list_namespaced_deployment, _replicas("sleepy-server", 1), namespace, timeout=60)
    awake = resources.wait_phase("inferenceservices", namespace, "sleepy", "Ready", timeout=120)
    assert awake["status"]["readyReplicas"] == 1

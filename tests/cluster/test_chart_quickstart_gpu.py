"""The quickstart's GPU install on real kubelets: the values block of docs/quickstart.md, with only
what this machine lacks changed (local images, the local StorageClass, no ServiceMonitor since no
Prometheus operator runs here). Everything starts in its own image; a Training on the GPU Trainer
stays Pending for GPUs and says so in its status.

Collected only when the operator and api images are on the node (hack/cluster/test.sh imports
them from Docker when they are there and sets KUBETUNE_CLUSTER_CHART; see conftest.py)."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kube_waits import wait_for
from kubernetes import client

from kubetune.chart.helm import CHART_DIR, REPO_ROOT, helm_path
from kubetune.crd import GROUP, VERSION

RELEASE_NAMESPACE = "kubetune-system"
LOCAL = {
    "operator": {"image": {"repository": "kubetune/operator", "tag": "dev", "pullPolicy": "Never"}},
    "api": {"image": {"repository": "kubetune/api", "tag": "dev", "pullPolicy": "Never"}},
    "runtime": {"image": {"repository": "kubetune/runtime", "tag": "dev", "pullPolicy": "Never"}},
    "storage": {"pvc": {"storageClassName": "standard", "size": "10Gi"}},
    "metrics": {"serviceMonitor": {"enabled": False}},
    # This cluster's API server runs on the host, where Service and pod addresses are not routed
    # (hack/kubetune/cluster/netns.py): it could not call the operator's webhook.
    "admissionWebhook": {"enabled": False},
}


def quickstart_gpu_values() -> str:
    text = (REPO_ROOT / "docs" / "quickstart.md").read_text()
    found = re.search(r"`values-gpu.yaml`:\n\n```yaml\n(.*?)```", text, re.S)
    assert found, "docs/quickstart.md has no values-gpu.yaml block"
    return found.group(1)


@pytest.fixture(scope="module")
def release(api: client.ApiClient, cluster_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[subprocess.CompletedProcess[str]]:
    work = tmp_path_factory.mktemp("gpu-values")
    (work / "values-gpu.yaml").write_text(quickstart_gpu_values())
    (work / "values-local.yaml").write_text(yaml.safe_dump(LOCAL))
    core = client.CoreV1Api(api)
    # The quickstart's prerequisites: the release namespace with the auth Secret, the PriorityClass.
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=RELEASE_NAMESPACE)))
    core.create_namespaced_secret(RELEASE_NAMESPACE, client.V1Secret(
        metadata=client.V1ObjectMeta(name="kubetune-auth"),
        string_data={"jwt-secret": uuid.uuid4().hex * 2, "admin-password": uuid.uuid4().hex}))
    client.SchedulingV1Api(api).create_priority_class(client.V1PriorityClass(
        metadata=client.V1ObjectMeta(name="training-batch"), value=1000))
    helm = [str(helm_path()), "--kubeconfig", cluster_info["kubeconfig"]]
    done = subprocess.run([*helm, "install", "kubetune", str(CHART_DIR), "-n", RELEASE_NAMESPACE,
                           "-f", str(work / "values-gpu.yaml"), "-f", str(work / "values-local.yaml"),
                           "--wait", "--timeout", "5m"], capture_output=True, text=True, timeout=400)
    yield done
    subprocess.run([*helm, "uninstall", "kubetune", "-n", RELEASE_NAMESPACE], capture_output=True, timeout=120)
    client.SchedulingV1Api(api).delete_priority_class("training-batch")


def test_gpu_values_install_with_every_component_in_its_image(release: subprocess.CompletedProcess[str],
                                                              api: client.ApiClient) -> None:
    assert release.returncode == 0, release.stderr
    apps = client.AppsV1Api(api)
    for name in ("kubetune-operator", "kubetune-api"):
        deployment = apps.read_namespaced_deployment(name, RELEASE_NAMESPACE)
        assert deployment.status.ready_replicas == 2  # the quickstart runs two of each
    lora = client.CustomObjectsApi(api).get_cluster_custom_object(GROUP, VERSION, "trainers", "lora")
    assert lora["spec"]["resources"]["gpuProduct"] == "NVIDIA-A100-SXM4-80GB"


def test_training_on_the_gpu_trainer_waits_for_gpus(release: subprocess.CompletedProcess[str],
                                                    api: client.ApiClient, namespace: str) -> None:
    assert release.returncode == 0, release.stderr
    core = client.CoreV1Api(api)
    core.patch_namespace(namespace, {"metadata": {"labels": {"kubetune.io/project": namespace}}})
    training = {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Training",
        "metadata": {"name": "gpu-run", "labels": {"kubetune.io/project": namespace}},
        "spec": {"trainerRef": "lora", "task": "causal-lm", "method": "lora", "baseModel": "qwen2.5-0.5b-instruct",
                 "dataset": {"uri": f"file:///var/lib/kubetune/artifacts/{namespace}/data.jsonl",
                             "format": "openai_chat_jsonl"}},
    }
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", training)
    def settled(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        # No node offers the quickstart's GPU product: Queued, saying so (reason WaitingForGPUs).
        waiting = status.get("phase") == "Queued" and "waiting for GPUs" in (status.get("message") or "")
        return waiting or status.get("phase") == "Failed"

    queued = wait_for(custom.list_namespaced_custom_object, settled, GROUP, VERSION, namespace, "trainings",
                      field_selector="metadata.name=gpu-run")
    assert queued["status"]["phase"] == "Queued", queued["status"]
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=gpu-run-train").items
    assert len(pods) == 1
    scheduled = {c.type: c for c in pods[0].status.conditions or []}["PodScheduled"]
    assert scheduled.status == "False" and scheduled.reason == "Unschedulable"
    container = pods[0].spec.containers[0]
    assert container.resources.limits["nvidia.com/gpu"] == "1"

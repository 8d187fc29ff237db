"""The API server itself refuses a Training whose values no child object could hold.

Before, `gpuType: "NVIDIA A100"` was stored, the operator's Job was refused (an invalid node
selector) and the Training stayed Pending with no message. kubectl users never pass the facade,
so the CRD schema is what must refuse it: applied for real with kubectl, nothing is stored.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.controlplane import ControlPlane

pytestmark = pytest.mark.integration


def _training(resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Training", "metadata": {"name": "bad-values"},
        "spec": {"trainerRef": "lora", "task": "causal-lm", "method": "lora", "baseModel": "hf://tiny/model",
                 "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"},
                 "resources": resources},
    }


def _apply(cp: ControlPlane, namespace: str, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cp.bin_dir / "kubectl"), "--kubeconfig", str(cp.kubeconfig), "-n", namespace, "apply", "-f", "-"],
        input=json.dumps(doc), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("resources", "field"), [
    ({"gpus": 1, "gpuType": "NVIDIA A100 80GB"}, "spec.resources.gpuType"),
    ({"gpus": 1, "gpuType": "x" * 64}, "spec.resources.gpuType"),
    ({"gpus": 1, "gpuType": "a100/80"}, "spec.resources.gpuType"),
    ({"cpu": "four"}, "spec.resources.cpu"),
    ({"memory": "16 GiB"}, "spec.resources.memory"),
])
def test_kubectl_apply_of_a_training_with_an_invalid_child_value_is_refused(
        control_plane: ControlPlane, api_client: client.ApiClient, namespace: str,
        resources: dict[str, Any], field: str) -> None:
    done = _apply(control_plane, namespace, _training(resources))
    assert done.returncode != 0
    assert "is invalid" in done.stderr and field in done.stderr, done.stderr
    with pytest.raises(ApiException) as missing:
        client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "trainings", "bad-values")
    assert missing.value.status == 404


def test_a_valid_gpu_type_is_stored(control_plane: ControlPlane, api_client: client.ApiClient,
                                    namespace: str) -> None:
    done = _apply(control_plane, namespace, _training({"gpus": 1, "gpuType": "NVIDIA-A100-SXM4-80GB"}))
    assert done.returncode == 0, done.stderr
    stored = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "trainings", "bad-values")
    assert stored["spec"]["resources"]["gpuType"] == "NVIDIA-A100-SXM4-80GB"


def test_a_trainer_with_an_invalid_gpu_product_or_priority_class_is_refused(
        control_plane: ControlPlane) -> None:
    for spec_extra, field in (({"resources": {"gpuProduct": "Tesla T4"}}, "spec.resources.gpuProduct"),
                              ({"priorityClassName": "Batch Jobs"}, "spec.priorityClassName")):
        doc = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Trainer", "metadata": {"name": "bad-trainer"},
               "spec": {"image": "x", "tasks": ["causal-lm"], "methods": ["lora"], **spec_extra}}
        done = _apply(control_plane, "default", doc)
        assert done.returncode != 0 and field in done.stderr, done.stderr

"""manifests/examples/ applied together into a fresh project namespace of the real cluster, run to the end.

The cluster twin of tests/integration/manifests/test_examples_run.py, in the chart's PVC mode
(`make e2e-cluster`). Before applying, the test does only what docs/quickstart.md asks of a user: the admin
puts a model where the example Trainer's catalog says (the tiny model, written into the store by a Job on
the runtime image), the user creates the project, a claim `support-data` in it and copies the data file into
the claim (a pod that mounts it). The four files are applied unchanged, at once, with `kubectl apply -n`;
the Trainer's image (ghcr.io/kubetune/runtime:<appVersion>) is on the node because hack/cluster/e2e.sh
imports the runtime image under that name too, as an air-gapped cluster would hold it.
Then the Training succeeds on the CPU of the worker node and the InferenceService serving it answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cluster_target import RUNTIME_UID, ClusterTarget, release_artifact_claim, run_store_job
from kube_waits import wait_for
from kubernetes import client

from kubetune.crd import GROUP, VERSION

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"
RUN_SECONDS = 900


def _example(kind: str) -> dict[str, Any]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return next(d for d in docs if d["kind"] == kind)


def _phase(want: str) -> Any:
    def check(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        if status.get("phase") == "Failed":
            raise AssertionError(f"{obj['kind']} {obj['metadata']['name']} failed: {status.get('message')}")
        return bool(status.get("phase") == want)
    return check


def _rows(count: int = 48) -> str:
    chats = [{"messages": [{"role": "user", "content": f"My order {i} has not arrived."},
                           {"role": "assistant", "content": f"Sorry about order {i}: it ships today."}]}
             for i in range(count)]
    return "".join(json.dumps(chat) + "\n" for chat in chats)


def _catalog_model(target: ClusterTarget, api: client.ApiClient) -> None:
    """The admin's step: a model where the example Trainer's catalog entry points (the store, outside projects)."""
    uri = _example("Trainer")["spec"]["models"][0]["uri"]
    path = uri.removeprefix("file://")
    assert path.startswith(f"{target.artifact_mount}/models/"), uri  # the chart's store, as the pods mount it
    script = f"from kubetune.testing.tiny import make_tiny_causal_lm; make_tiny_causal_lm({path!r})"
    run_store_job(target, api, "examples-model", script, env={"HF_HUB_OFFLINE": "1"})


def _fill_claim(target: ClusterTarget, core: client.CoreV1Api, namespace: str) -> None:
    """The user's step: a claim `support-data` in the project (the cluster's default StorageClass) and the
    data file copied in by a pod that mounts it (docs/quickstart.md uses kubectl cp; a pod writes it here)."""
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "support-data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    wait_for(core.list_namespaced_persistent_volume_claim, lambda c: (c.get("status") or {}).get("phase") == "Bound",
             namespace, field_selector="metadata.name=support-data")
    script = f"open('/data/support-chats.jsonl', 'w').write({_rows()!r})"
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "support-data-copy"},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUNTIME_UID, "runAsGroup": RUNTIME_UID,
                                "fsGroup": RUNTIME_UID, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "copy", "image": target.runtime_image, "imagePullPolicy": "IfNotPresent",
                "command": ["python", "-c", script],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "512Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "support-data"}}]}})
    pod = wait_for(core.list_namespaced_pod, lambda p: (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"),
                   namespace, field_selector="metadata.name=support-data-copy")
    assert pod["status"]["phase"] == "Succeeded", core.read_namespaced_pod_log("support-data-copy", namespace)
    core.delete_namespaced_pod("support-data-copy", namespace)


def _kubectl(target: ClusterTarget, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl = os.environ.get("KUBETUNE_E2E_KUBECTL", "kubectl")  # hack/cluster/e2e.sh: the cluster's own
    return subprocess.run([kubectl, "--kubeconfig", target.kubeconfig, *args], capture_output=True, text=True,
                          timeout=120)


def test_examples_apply_together_and_run(target: ClusterTarget, api: client.ApiClient) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    headers = {"Authorization": f"Bearer {target.admin_token()}"}
    _catalog_model(target, api)
    with httpx.Client(base_url=target.api_url, headers=headers, timeout=120) as http:
        resp = http.post("/api/v1/projects", json={"name": f"examples-{uuid.uuid4().hex[:6]}",
                                                   "description": "manifests/examples on the real cluster"})
        assert resp.status_code == 201, resp.text
        project = resp.json()
        namespace = project["namespace"]
        try:
            _fill_claim(target, core, namespace)
            applied = _kubectl(target, "apply", "-n", namespace, "-f", str(EXAMPLES))
            assert applied.returncode == 0, applied.stderr
            assert applied.stdout.count(" created") + applied.stdout.count(" configured") + \
                applied.stdout.count(" unchanged") == len(list(EXAMPLES.glob("*.yaml"))), applied.stdout
            trainers = {t["metadata"]["name"]
                        for t in custom.list_cluster_custom_object(GROUP, VERSION, "trainers")["items"]}
            assert trainers >= {"lora", "qlora", "full", "example-cpu-lora"}, trainers

            dataset = wait_for(custom.list_namespaced_custom_object, _phase("Ready"), GROUP, VERSION, namespace,
                               "datasets", field_selector="metadata.name=support-chats")
            assert dataset["spec"]["uri"] == "pvc://support-data/support-chats.jsonl"
            training = wait_for(custom.list_namespaced_custom_object, _phase("Succeeded"), GROUP, VERSION,
                                namespace, "trainings", field_selector="metadata.name=support-assistant",
                                timeout=RUN_SECONDS)
            status = training["status"]
            assert status["progress"]["step"] == training["spec"]["hyperparameters"]["maxSteps"], status["progress"]
            assert status["summary"]["finalLoss"] < status["summary"]["initialLoss"], status["summary"]
            assert status["output"].startswith(f"file://{target.artifact_mount}/{namespace}/"), status["output"]
            # It ran in the example Trainer's own image, on the worker node.
            job = client.BatchV1Api(api).read_namespaced_job(status["jobName"], namespace)
            assert job.spec.template.spec.containers[0].image == _example("Trainer")["spec"]["image"]

            served = wait_for(custom.list_namespaced_custom_object, _phase("Ready"), GROUP, VERSION, namespace,
                              "inferenceservices", field_selector="metadata.name=support-assistant",
                              timeout=RUN_SECONDS)
            assert served["status"]["readyReplicas"] == 1, served["status"]
            models = http.get("/api/v1/inference/models").json()["models"]
            ours = [m for m in models if m["id"].endswith("/support-assistant") and m["status"] == "ready"]
            assert ours, models
            answer = http.post("/api/v1/inference/generate", json={
                "model_id": ours[0]["id"], "prompt": "My order 7 has not arrived.", "max_tokens": 8,
                "temperature": 0})
            assert answer.status_code == 200, answer.text
            assert answer.json()["usage"]["completion_tokens"] >= 1
        finally:
            http.delete(f"/api/v1/projects/{project['id']}")
            try:
                custom.delete_cluster_custom_object(GROUP, VERSION, "trainers", "example-cpu-lora")
            except client.ApiException as exc:
                if exc.status != 404:  # not applied: the failure above is what matters
                    raise
            release_artifact_claim(target, api, namespace)

"""manifests/examples/ applied together with kubectl into a fresh project namespace run to completion.

The whole local platform (control plane, node, operator, facade); the project is made through REST
as a user would. Before applying, the test does only what docs/quickstart.md asks of a user: the admin
puts a model where the example Trainer's catalog says (a tiny one, built here), the user creates the
claim `support-data` and copies the data file into it. The example files are applied as they are, all
at once; the one substitution is the install's store path (/var/lib/kubetune/artifacts in the chart)
for this platform's, in the Trainer's catalog uri. Then the Training must succeed on the local node's
CPU and the InferenceService serving it become Ready and answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kube_waits import Obj, wait_for
from kubernetes import client

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.platform import LocalPlatform

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"
CHART_STORE = "/var/lib/kubetune/artifacts"  # charts/kubetune/values.yaml storage.pvc.mountPath
RUN_SECONDS = 600


def _rows(count: int = 48) -> str:
    chats = [{"messages": [{"role": "user", "content": f"My order {i} has not arrived."},
                           {"role": "assistant", "content": f"Sorry about order {i}: it ships today."}]}
             for i in range(count)]
    return "".join(json.dumps(chat) + "\n" for chat in chats)


def _phase(want: str) -> Any:
    def check(obj: Obj) -> bool:
        status = obj.get("status") or {}
        if status.get("phase") == "Failed":
            raise AssertionError(f"{obj['kind']} {obj['metadata']['name']} failed: {status.get('message')}")
        return bool(status.get("phase") == want)
    return check


def _examples_for(store: Path, into: Path) -> list[Path]:
    """The example files, with the chart's store path replaced by this platform's; nothing else changes."""
    into.mkdir()
    written = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = path.read_text()
        doc = yaml.safe_load(text)
        assert "namespace" not in doc["metadata"], f"{path.name} names a namespace"
        if CHART_STORE in text:
            assert doc["kind"] == "Trainer", f"{path.name}: only the admin's catalog names a store path"
        (into / path.name).write_text(text.replace(CHART_STORE, str(store)))
        written.append(into / path.name)
    return written


def _make_project(platform: LocalPlatform) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {platform.admin_token()}"}
    with httpx.Client(base_url=platform.api_url, headers=headers, timeout=60) as http:
        resp = http.post("/api/v1/projects", json={"name": "examples", "description": "manifests/examples"})
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


def _fill_claim(core: client.CoreV1Api, namespace: str) -> Path:
    """What the user does first (docs/quickstart.md): a claim `support-data` holding the data file."""
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "support-data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    claim = wait_for(core.list_namespaced_persistent_volume_claim,
                     lambda c: (c.get("status") or {}).get("phase") == "Bound", namespace,
                     field_selector="metadata.name=support-data")
    volume = core.read_persistent_volume(claim["spec"]["volumeName"])
    directory = Path(volume.spec.host_path.path)  # the local node's provisioner: a hostPath volume
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "support-chats.jsonl").write_text(_rows())  # stands for `kubectl cp` into the claim
    return directory


def test_examples_apply_together_and_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Trainer's `kubetune-train` (and the server) resolve on the PATH the node's pods inherit.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    from kubetune.testing.tiny import make_tiny_causal_lm

    with LocalPlatform.start(tmp_path / "platform") as platform:
        make_tiny_causal_lm(platform.artifacts / "models" / "example-chat-model")
        namespace = _make_project(platform)["namespace"]
        files = _examples_for(platform.artifacts, tmp_path / "examples")
        kubeconfig = platform.control_plane.kubeconfig
        with client.ApiClient(client_configuration(kubeconfig)) as api:
            core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
            labels = core.read_namespace(namespace).metadata.labels or {}
            assert "kubetune.io/project" in labels, labels
            _fill_claim(core, namespace)

            kubectl = platform.control_plane.bin_dir / "kubectl"
            applied = subprocess.run(
                [str(kubectl), "--kubeconfig", str(kubeconfig), "apply", "-n", namespace, "-f", str(files[0].parent)],
                capture_output=True, text=True, timeout=60)
            assert applied.returncode == 0, applied.stderr
            assert applied.stdout.count("created") == len(files), applied.stdout
            # The example Trainer is added next to the chart's defaults, which stay as they were.
            trainers = {t["metadata"]["name"] for t in
                        custom.list_cluster_custom_object(GROUP, VERSION, "trainers")["items"]}
            assert trainers >= {*platform.trainers, "example-cpu-lora"}

            dataset = wait_for(custom.list_namespaced_custom_object, _phase("Ready"), GROUP, VERSION, namespace,
                               "datasets", field_selector="metadata.name=support-chats")
            assert dataset["spec"]["uri"] == "pvc://support-data/support-chats.jsonl"
            training = wait_for(custom.list_namespaced_custom_object, _phase("Succeeded"), GROUP, VERSION,
                                namespace, "trainings", field_selector="metadata.name=support-assistant",
                                timeout=RUN_SECONDS)
            status = training["status"]
            # The trainer really trained (on the claim's file, which it validated) and wrote the
            # adapter into the project's own prefix of the store.
            assert status["progress"]["step"] == training["spec"]["hyperparameters"]["maxSteps"], status["progress"]
            assert status["summary"]["finalLoss"] < status["summary"]["initialLoss"], status["summary"]
            assert status["output"].startswith(f"file://{platform.artifacts}/{namespace}/"), status["output"]

            served = wait_for(custom.list_namespaced_custom_object, _phase("Ready"), GROUP, VERSION, namespace,
                              "inferenceservices", field_selector="metadata.name=support-assistant",
                              timeout=RUN_SECONDS)
            assert served["status"]["readyReplicas"] == 1, served["status"]
            _assert_answers(platform, namespace)


def _assert_answers(platform: LocalPlatform, namespace: str) -> None:
    """The served model answers through the facade, as the project's other models do."""
    headers = {"Authorization": f"Bearer {platform.admin_token()}"}
    with httpx.Client(base_url=platform.api_url, headers=headers, timeout=120) as http:
        models = http.get("/api/v1/inference/models").json()["models"]
        ours = [m for m in models if m["id"].endswith("/support-assistant") and m["status"] == "ready"]
        assert ours, models
        answer = http.post("/api/v1/inference/generate", json={
            "model_id": ours[0]["id"], "prompt": "My order 7 has not arrived.", "max_tokens": 8, "temperature": 0})
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["completion_tokens"] >= 1

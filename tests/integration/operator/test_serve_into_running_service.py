"""A Training that serves into an existing InferenceService (spec.serve.into): when it succeeds, its adapter is
loaded into the running kubetune-serve without a rollout (same pod, same model version), answers by the
Training's name, and is unloaded when the Training is deleted. Another namespace is refused before any pod.

Real parts: the control plane, the in-process operator, a local node running kubetune-serve with a tiny causal
LM made here (the node keeps the adapters ConfigMap volume in step, as a kubelet does). The Trainer is a
stand-in that copies a LoRA adapter made here into its output and reports it, as kubetune-train would.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from operator_waits import Obj, Resources, condition

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration
SERVE_PORT = 8080

# Stand-in trainer: its "training" copies a ready adapter (ADAPTER_FROM) into the output it was given and
# reports that output in the Training's status with its own service account, as kubetune-train does.
COPY_TRAINER = r"""
import json, os, shutil, sys
from kubernetes import client
from kubetune.localdev.node.paths import resolve, load_incluster_config
config = json.load(open(resolve(sys.argv[sys.argv.index("--config") + 1])))
shutil.copytree(os.environ["ADAPTER_FROM"], resolve(config["output"].removeprefix("file://")), dirs_exist_ok=True)
load_incluster_config()
client.CustomObjectsApi().patch_namespaced_custom_object_status(
    "kubetune.io", "v1alpha1", os.environ["KUBETUNE_TRAINING_NAMESPACE"], "trainings",
    os.environ["KUBETUNE_TRAINING_NAME"], {"status": {"output": config["output"]}})
open(os.environ.get("KUBETUNE_TERMINATION_MESSAGE_PATH", "/dev/termination-log"), "w").write("done")
"""


@pytest.fixture(scope="module")
def served(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A node and an operator whose servers are the real kubetune-serve; yields the artifact store."""
    artifacts = tmp_path_factory.mktemp("serve-into")
    node = NodeConfig(kubeconfig=control_plane.kubeconfig, name=f"serve-into-{uuid.uuid4().hex[:4]}",
                      state_dir=tmp_path_factory.mktemp("serve-into-node"), restart_backoff_seconds=1.0)
    settings = Settings(kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None,
                        artifact_mount_path=str(artifacts), leader_election=False, metrics_port=0, health_port=0,
                        log_format="text", default_backoff_limit=0, runtime_image="kubetune/runtime:test",
                        serve_command=[sys.executable, "-m", "kubetune.serve.cli"])
    with NodeAgent(node), OperatorThread(settings):
        yield artifacts


def _models(directory: Path) -> tuple[Path, Path]:
    """A tiny causal LM and a LoRA adapter on it whose weights change the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from kubetune.testing.tiny import make_tiny_causal_lm

    base = make_tiny_causal_lm(directory / "models" / "tiny")
    torch.manual_seed(3)
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                          LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False))
    lora.save_pretrained(directory / "made" / "adapter")
    return base, directory / "made" / "adapter"


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll an HTTP condition (a server's state is not an API object one can watch)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _training(name: str, trainer: str, base: str, store: str, serve: dict[str, Any]) -> Obj:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
            "spec": {"trainerRef": trainer, "baseModel": base, "serve": serve,
                     "dataset": {"uri": f"{store}/data/chat.jsonl", "format": "openai_chat_jsonl"}}}


def test_a_succeeded_training_s_adapter_is_loaded_into_the_running_service_and_unloaded_when_deleted(
        api_client: client.ApiClient, resources: Resources, namespace: str, served: Path,
        make_trainer: Callable[..., str]) -> None:
    base, made = _models(served / namespace)
    store, base_uri = f"file://{served}/{namespace}", f"file://{base}"
    trainer = make_trainer(command=[sys.executable, "-c", COPY_TRAINER], models=[],
                           env=[{"name": "ADAPTER_FROM", "value": str(made)}])
    resources.create("inferenceservices", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "chat"},
        "spec": {"model": {"baseModel": base_uri}, "task": "causal-lm", "runtime": "kubetune", "auth": "none"}})
    ready = resources.wait_phase("inferenceservices", namespace, "chat", "Ready", "Failed", timeout=300)
    assert ready["status"]["phase"] == "Ready", ready["status"]
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    (pod,) = core.list_namespaced_pod(namespace, label_selector="kubetune.io/inferenceservice=chat").items
    http = httpx.Client(base_url=f"http://{pod.status.pod_ip}:{SERVE_PORT}", timeout=120, trust_env=False)
    body = {"prompt": "Kubernetes runs", "max_tokens": 8, "temperature": 0}
    plain = http.post("/v1/completions", json={**body, "model": "tiny"})
    assert plain.status_code == 200, plain.text
    assert http.post("/v1/completions", json={**body, "model": "sft"}).status_code == 404
    generation = apps.read_namespaced_deployment("chat-server", namespace).metadata.generation

    resources.create("trainings", namespace, _training("sft", trainer, base_uri, store, {"into": {"name": "chat"}}))
    done = resources.wait_phase("trainings", namespace, "sft", "Succeeded", "Failed", timeout=300)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    listed = resources.wait("inferenceservices", namespace, "chat",
                            lambda o: (o.get("status") or {}).get("adapters") == ["sft"], timeout=120)
    assert (listed["status"]["phase"], listed["status"]["modelVersion"]) == ("Ready", "v1")
    resources.wait("trainings", namespace, "sft",
                   lambda o: (o.get("status") or {}).get("inferenceService") == "chat", timeout=60)

    def ids() -> list[str]:
        return [m["id"] for m in http.get("/v1/models").json()["data"]]

    _until(lambda: "sft" in ids(), 120, "the Training's adapter in the server's /v1/models")
    adapted = http.post("/v1/completions", json={**body, "model": "sft"})
    assert adapted.status_code == 200, adapted.text
    assert adapted.json()["choices"][0]["text"] != plain.json()["choices"][0]["text"]
    # The same pod serves it: no rollout, the base model still answers by its own name.
    (still,) = core.list_namespaced_pod(namespace, label_selector="kubetune.io/inferenceservice=chat").items
    assert still.metadata.uid == pod.metadata.uid
    assert apps.read_namespaced_deployment("chat-server", namespace).metadata.generation == generation
    again = http.post("/v1/completions", json={**body, "model": "tiny"})
    assert again.json()["choices"][0]["text"] == plain.json()["choices"][0]["text"]

    resources.delete("trainings", namespace, "sft")
    resources.wait("inferenceservices", namespace, "chat",
                   lambda o: (o.get("status") or {}).get("adapters") == [], timeout=120)
    _until(lambda: "sft" not in ids(), 120, "the adapter gone from the server's /v1/models")
    assert http.post("/v1/completions", json={**body, "model": "sft"}).status_code == 404
    (last,) = core.list_namespaced_pod(namespace, label_selector="kubetune.io/inferenceservice=chat").items
    assert last.metadata.uid == pod.metadata.uid


def test_serving_into_another_project_is_refused_before_any_pod(
        resources: Resources, namespace: str, served: Path, make_trainer: Callable[..., str]) -> None:
    trainer = make_trainer(command=[sys.executable, "-c", COPY_TRAINER], models=[])
    store = f"file://{served}/{namespace}"
    into = {"into": {"name": "chat", "namespace": "someone-else"}}
    resources.create("trainings", namespace, _training("across", trainer, f"{store}/models/tiny", store, into))
    failed = resources.wait_phase("trainings", namespace, "across", "Failed", timeout=120)
    assert condition(failed, "Failed")["reason"] == "InvalidReference"
    assert failed["status"]["message"] == (
        "serve.into names InferenceService chat of namespace someone-else: a Training serves its adapter only "
        f"into an InferenceService of its own project (namespace {namespace})")
    assert "jobName" not in failed["status"]

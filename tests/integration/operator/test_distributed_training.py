"""Real distributed LoRA on the local platform: kubetune-train under torchrun's launcher (CPU, gloo), run by the
operator as 1 pod x 2 processes and as 2 pods x 2 processes (Indexed Job, rendezvous at pod 0 by its name)."""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from operator_waits import Obj, Resources, wait_for

from kubetune.operator.inprocess import OperatorThread
from kubetune.testing.chat_data import memorisable_chat_jsonl

STEPS = 4
LONG_STEPS = 40  # long enough to be killed after its first checkpoint (every 2 steps)


@pytest.fixture(scope="module")
def tiny_model(artifacts: Path) -> Path:
    from kubetune.testing.tiny import make_tiny_causal_lm

    return make_tiny_causal_lm(artifacts / "models" / f"tiny-llama-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def torch_trainer(resources: Resources, tiny_model: Path) -> Iterator[str]:
    """The real runtime as a Trainer (no parameter definitions: every typed hyperparameter is allowed)."""
    name = f"torch-{uuid.uuid4().hex[:6]}"
    resources.create("trainers", None, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": name},
        "spec": {"image": "kubetune/runtime:test", "command": [sys.executable, "-m", "kubetune.train.cli"],
                 "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "OMP_NUM_THREADS", "value": "1"}],
                 "tasks": ["causal-lm"], "methods": ["lora"], "resources": {"gpus": 0},
                 "models": [{"id": "tiny-llama", "name": "Tiny Llama", "uri": f"file://{tiny_model}"}]}})
    yield name
    resources.custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", name)


def _training(resources: Resources, namespace: str, artifacts: Path, trainer: str, name: str, nodes: int,
              steps: int = STEPS, backoff_limit: int = 0, processes: int = 2) -> Obj:
    data = artifacts / namespace / "data" / "chat.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(memorisable_chat_jsonl())
    return resources.create("trainings", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
        "spec": {"trainerRef": trainer, "method": "lora", "baseModel": "tiny-llama", "nodes": nodes,
                 "backoffLimit": backoff_limit,
                 "distributed": {"processesPerNode": processes, "rendezvousTimeoutSeconds": 300},
                 "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
                 "hyperparameters": {"maxSteps": steps, "batchSize": 2, "learningRate": 1e-2, "loraDropout": 0.0,
                                     "saveSteps": 2}}})


@pytest.mark.parametrize("nodes", [1, 2], ids=["1x2", "2x2"])
def test_lora_on_two_processes_per_pod_succeeds(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    artifacts: Path, torch_trainer: str, nodes: int,
) -> None:
    _training(resources, namespace, artifacts, torch_trainer, "dist", nodes)
    done = resources.wait_phase("trainings", namespace, "dist", "Succeeded", "Failed", timeout=900)
    status = done["status"]
    assert status["phase"] == "Succeeded", (status.get("message"), status.get("nodeStates"))
    assert status["progress"]["step"] == STEPS  # reported by rank 0 of node 0 alone
    assert status["summary"]["finalLoss"] < status["summary"]["initialLoss"]
    adapter = Path(status["output"].removeprefix("file://"))
    assert (adapter / "adapter_model.safetensors").is_file()
    job = client.BatchV1Api(api_client).read_namespaced_job("dist-train", namespace)
    assert (job.spec.completions, job.spec.completion_mode == "Indexed") == (nodes, nodes > 1)
    if nodes > 1:
        assert status["nodes"] == "2/2 Succeeded"
    state = json.loads((adapter.parent / "checkpoints" / f"step-{STEPS:08d}" / "state.json").read_text())
    assert state["world_size"] == 2 * nodes  # every process of every pod trained


def _pod_processes(pod: str) -> list[int]:
    """Host pids whose environment names this pod (its container's whole tree on the local node)."""
    marker = f"KUBETUNE_POD_NAME={pod}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue  # ended meanwhile, or not ours to read
    return found


def test_a_killed_node_restarts_the_group_from_its_checkpoint(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    artifacts: Path, torch_trainer: str,
) -> None:
    _training(resources, namespace, artifacts, torch_trainer, "dist", 2, steps=LONG_STEPS, backoff_limit=1)
    checkpointed = resources.wait("trainings", namespace, "dist",
                                  lambda t: bool((t.get("status") or {}).get("checkpoints")), timeout=600)
    assert checkpointed["status"]["phase"] == "Running"
    core = client.CoreV1Api(api_client)
    pods = core.list_namespaced_pod(namespace, label_selector="kubetune.io/training=dist").items
    node1 = [p.metadata.name for p in pods
             if p.metadata.annotations.get("batch.kubernetes.io/job-completion-index") == "1"]
    pids = _pod_processes(node1[0])
    assert pids
    for pid in pids:  # node 1 dies at once, as a lost machine would
        os.kill(pid, signal.SIGKILL)
    done = resources.wait_phase("trainings", namespace, "dist", "Succeeded", "Failed", timeout=900)
    status = done["status"]
    assert status["phase"] == "Succeeded", (status.get("message"), status.get("nodeStates"))
    assert status["attempts"] == 2
    assert status["progress"]["step"] == LONG_STEPS
    restart = wait_for(core.list_namespaced_event, lambda e: e.get("reason") == "Restarting", namespace,
                       field_selector="involvedObject.name=dist")
    assert "node 1" in restart["message"]
    wait_for(core.list_namespaced_event, lambda e: e.get("reason") == "Resumed", namespace,
             field_selector="involvedObject.name=dist")  # the trainer's: the second group went on from a checkpoint


def test_a_new_training_on_the_same_output_continues_on_another_world_size(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    artifacts: Path, torch_trainer: str,
) -> None:
    _training(resources, namespace, artifacts, torch_trainer, "wide", 1)  # 1 pod x 2 processes
    assert resources.wait_phase("trainings", namespace, "wide", "Succeeded", "Failed", timeout=900)[
        "status"]["phase"] == "Succeeded"
    output = f"file://{artifacts}/{namespace}/trainings/wide"
    data = artifacts / namespace / "data" / "chat.jsonl"
    resources.create("trainings", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": "narrow"},
        "spec": {"trainerRef": torch_trainer, "method": "lora", "baseModel": "tiny-llama", "output": output,
                 "distributed": {"processesPerNode": 1},
                 "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
                 # One process x batch 4: the global batch of 2 processes x 2.
                 "hyperparameters": {"maxSteps": STEPS + 2, "batchSize": 4, "learningRate": 1e-2,
                                     "loraDropout": 0.0, "saveSteps": 2}}})
    done = resources.wait_phase("trainings", namespace, "narrow", "Succeeded", "Failed", timeout=900)
    assert done["status"]["phase"] == "Succeeded", done["status"].get("message")
    core = client.CoreV1Api(api_client)
    resumed = wait_for(core.list_namespaced_event, lambda e: e.get("reason") == "Resumed", namespace,
                       field_selector="involvedObject.name=narrow")
    assert f"from step {STEPS}" in resumed["message"]  # the 2-process checkpoint, in one process
    state = json.loads((artifacts / namespace / "trainings" / "wide" / "checkpoints" / f"step-{STEPS + 2:08d}"
                        / "state.json").read_text())
    assert state["world_size"] == 1


def test_two_multinode_trainings_at_once_on_one_node_both_succeed(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    artifacts: Path, torch_trainer: str,
) -> None:
    """The local node's pods share one network namespace: each group's node 0 binds its Training's own
    rendezvous port, so two groups at once no longer meet on 29500 (the second failed its rendezvous)."""
    names = ("left", "right")
    for name in names:
        _training(resources, namespace, artifacts, torch_trainer, name, 2, processes=1)
    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    for name in names:
        done = resources.wait_phase("trainings", namespace, name, "Succeeded", "Failed", timeout=900)
        status = done["status"]
        assert status["phase"] == "Succeeded", (name, status.get("message"), status.get("nodeStates"))
        assert status["attempts"] == 1  # no group lost its rendezvous and restarted
        assert status["nodes"] == "2/2 Succeeded"
    envs = [batch.read_namespaced_job(f"{n}-train", namespace).spec.template.spec.containers[0].env for n in names]
    ports = {next(e.value for e in env if e.name == "KUBETUNE_RDZV_ENDPOINT").rsplit(":", 1)[1] for env in envs}
    assert len(ports) == 2
    # The two groups ran at the same time: every pod started before any pod finished.
    pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=trainer").items
    assert len(pods) == 4
    started = [p.status.start_time for p in pods]
    finished = [p.status.container_statuses[0].state.terminated.finished_at for p in pods]
    assert max(started) < min(finished)

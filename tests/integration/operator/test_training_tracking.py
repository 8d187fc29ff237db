"""spec.tracking end to end on the local platform: the operator puts the MLflow URI in run.json and the
credentials Secret's keys in the pod's env, the real trainer logs the run to MLflow's own server (SQLite,
proxied artifacts) and writes status.trackingUrl, and the facade's training response links it."""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client
from operator_waits import Resources

from kubetune.localdev.mlflow import mlflow_server
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.forward import LoopbackForwarder
from kubetune.operator.inprocess import OperatorThread
from kubetune.testing.chat_data import memorisable_chat_jsonl

STEPS = 4


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory, operator_node: NodeAgent) -> Iterator[str]:
    """The server on host loopback; with a pod network namespace, its port is forwarded into it as the node
    forwards the API server's (the node's host_ports, for a port known only now)."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        network = getattr(operator_node, "network", None)
        forwarder = LoopbackForwarder(network.fd, [int(uri.rsplit(":", 1)[1])]).start() if network else None
        try:
            yield uri
        finally:
            if forwarder is not None:
                forwarder.stop()


@pytest.fixture
def torch_trainer(resources: Resources, artifacts: Path) -> Iterator[str]:
    from kubetune.testing.tiny import make_tiny_causal_lm

    model = make_tiny_causal_lm(artifacts / "models" / f"tiny-{uuid.uuid4().hex[:6]}")
    name = f"torch-{uuid.uuid4().hex[:6]}"
    resources.create("trainers", None, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": name},
        "spec": {"image": "kubetune/runtime:test", "command": [sys.executable, "-m", "kubetune.train.cli"],
                 "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "OMP_NUM_THREADS", "value": "1"}],
                 "tasks": ["causal-lm"], "methods": ["lora"], "resources": {"gpus": 0},
                 "models": [{"id": "tiny", "name": "Tiny", "uri": f"file://{model}"}]}})
    yield name
    resources.custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", name)


def test_tracked_training_lands_in_mlflow(operator: OperatorThread, resources: Resources, api_client: client.ApiClient,
                                          namespace: str, artifacts: Path, torch_trainer: str, mlflow: str) -> None:
    data = artifacts / namespace / "data" / "chat.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(memorisable_chat_jsonl())
    # The URI from a Secret key (uriSecret), as a cluster whose MLflow address is not public would give it.
    client.CoreV1Api(api_client).create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="mlflow"), data={"uri": base64.b64encode(mlflow.encode()).decode()}))
    resources.create("trainings", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": "tracked"},
        "spec": {"trainerRef": torch_trainer, "baseModel": "tiny", "backoffLimit": 0,
                 "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
                 "hyperparameters": {"maxSteps": STEPS, "batchSize": 2, "learningRate": 1e-2},
                 "tracking": {"mlflow": {"uriSecret": {"name": "mlflow", "key": "uri"}, "experiment": namespace}}}})
    done = resources.wait_phase("trainings", namespace, "tracked", "Succeeded", "Failed", timeout=900)
    status = done["status"]
    assert status["phase"] == "Succeeded", status.get("message")
    url = status.get("trackingUrl")
    assert url and url.startswith(f"{mlflow}/#/experiments/"), status
    run_id = url.rsplit("/runs/", 1)[1]
    api = f"{mlflow}/api/2.0/mlflow"
    run = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["info"]["run_name"] == "tracked" and run["info"]["status"] == "FINISHED"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["kubetune.namespace"] == namespace and tags["kubetune.training"] == "tracked"
    history = httpx.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}).json()
    assert sorted(m["step"] for m in history["metrics"]) == list(range(1, STEPS + 1)), history

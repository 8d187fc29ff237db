"""GPU readings come from every node: two "pods" (one gloo process each, the Indexed Job's
environment) train together, each node's first process reads its own (fake) GPUs, the readings are
gathered to rank 0 over the process group, and rank 0 patches them, tagged with the node, into the
Training's status on the real API server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from train_processes import child_env, free_port, run_config, write_config

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.controlplane import ControlPlane

pytestmark = pytest.mark.integration

FAKE_GPUS = Path(__file__).parent / "fake_gpus"


def start_reporting_node(
    config: Path, log: Path, index: int, endpoint: str, kubeconfig: Path
) -> subprocess.Popen[bytes]:
    env = child_env()
    env.update(
        JOB_COMPLETION_INDEX=str(index),
        KUBETUNE_RDZV_ENDPOINT=endpoint,
        KUBETUNE_LOCAL_ADDR="127.0.0.1",
        KUBECONFIG=str(kubeconfig),
        KUBETUNE_FAKE_GPUS="2",
        PYTHONPATH=f"{FAKE_GPUS}:{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(FAKE_GPUS),
    )
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "kubetune.train.cli", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )


def test_every_nodes_gpus_reach_the_training_status(
    tiny_llama: Path,
    memorisable: Path,
    tmp_path: Path,
    control_plane: ControlPlane,
    api_client: client.ApiClient,
    namespace: str,
) -> None:
    custom = client.CustomObjectsApi(api_client)
    name = f"gpus-{uuid.uuid4().hex[:6]}"
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Training", "metadata": {"name": name},
        "spec": {"trainerRef": "lora", "baseModel": "tiny", "nodes": 2,
                 "dataset": {"uri": f"file:///var/lib/kubetune/artifacts/{namespace}/d.jsonl"}}})
    config = run_config(
        tiny_llama, memorisable, tmp_path / "out", batchSize=2, maxSteps=3,
        distributed={"nodes": 2, "rendezvousTimeoutSeconds": 120},
    )
    config["training"] = {"namespace": namespace, "name": name, "uid": created["metadata"]["uid"]}
    config["reporting"]["intervalSeconds"] = 0.2
    path = write_config(config, tmp_path / "run.json")
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [
        start_reporting_node(path, tmp_path / f"node-{i}.log", i, endpoint, Path(control_plane.kubeconfig))
        for i in (1, 0)
    ]
    codes = [node.wait(timeout=600) for node in nodes]
    for i in (0, 1):
        print((tmp_path / f"node-{i}.log").read_text(errors="replace")[-3000:])
    assert codes == [0, 0]

    status = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", name)["status"]
    assert status["progress"]["step"] == 3  # rank 0 reported the run
    readings = [(g["node"], g["index"], g["name"]) for g in status["gpu"]]
    # Both nodes' devices, read by each node's local rank 0, in node then device order.
    assert readings == [
        (0, 0, "fake node 0 local rank 0"),
        (0, 1, "fake node 0 local rank 0"),
        (1, 0, "fake node 1 local rank 0"),
        (1, 1, "fake node 1 local rank 0"),
    ]
    assert [g["utilizationPercent"] for g in status["gpu"]] == [10.0, 10.0, 20.0, 20.0]

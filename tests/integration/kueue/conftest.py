"""A real Kueue manager on the session's control plane, the operator with its Kueue integration on,
and a node for the pods. Each lives for one test module: "package" scope would outlive this folder, since
tests/ has no __init__.py files and pytest then keeps package fixtures to the end of the session (a Kueue
operator still reconciling every later test's Trainings). Kueue's webhook configurations are removed before
it stops, so later tests' Jobs never wait on it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.kueue import Kueue
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

KUEUE_GROUP, KUEUE_VERSION = "kueue.x-k8s.io", "v1beta2"
NODE = "kueue-test-node"

# Stand-in trainer: runs until the test creates its release file (named in the hyperparameters), then
# exits 0; so a test decides when a queued run's predecessor finishes.
TRAINER_SCRIPT = r"""
import json, os, sys, time
from kubetune.localdev.node.paths import resolve
config = json.load(open(resolve(sys.argv[sys.argv.index("--config") + 1])))
release = config["hyperparameters"]["extra"]["release"]
while not os.path.exists(release):
    time.sleep(0.2)
open(os.environ.get("KUBETUNE_TERMINATION_MESSAGE_PATH", "/dev/termination-log"), "w").write("released")
"""


# waitForPodsReady's timeout: long enough for any pod here to start, short enough that the test of a
# group that never becomes ready sees Kueue evict it.
PODS_READY_TIMEOUT_SECONDS = 40


@pytest.fixture(scope="module")
def kueue(control_plane: ControlPlane) -> Iterator[Kueue]:
    with Kueue.start(control_plane, pods_ready_timeout=f"{PODS_READY_TIMEOUT_SECONDS}s") as running:
        yield running


@pytest.fixture(scope="module")
def kueue_node(control_plane: ControlPlane, api_client: client.ApiClient,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeAgent]:
    config = NodeConfig(kubeconfig=control_plane.kubeconfig, name=NODE, gpus=0, cpu=4,
                        state_dir=tmp_path_factory.mktemp("kueue-node"), restart_backoff_seconds=1.0)
    with NodeAgent(config) as agent:
        yield agent
    # Gone with this folder: later tests' pods never land on a node that no longer runs them.
    with suppress(client.ApiException):
        client.CoreV1Api(api_client).delete_node(NODE)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kueue-artifacts")


@pytest.fixture(scope="module")
def kueue_operator(control_plane: ControlPlane, kueue: Kueue, kueue_node: NodeAgent,
                   store: Path) -> Iterator[OperatorThread]:
    settings = Settings(
        kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, artifact_mount_path=str(store),
        leader_election=False, metrics_port=0, health_port=0, log_format="text",
        runtime_image="kubetune/runtime:test", default_backoff_limit=0, workers=8, kueue_enabled=True,
    )
    with OperatorThread(settings) as op:
        yield op


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def make_trainer(custom: client.CustomObjectsApi) -> Iterator[Callable[..., str]]:
    """make_trainer(image=...) -> a cluster-scoped Trainer running the stand-in, removed after the test."""
    made: list[str] = []

    def make(image: str = "kubetune/runtime:test") -> str:
        name = f"tr-{uuid.uuid4().hex[:8]}"
        custom.create_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", {
            "apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": name},
            "spec": {"image": image, "command": [sys.executable, "-c", TRAINER_SCRIPT],
                     "tasks": ["causal-lm"], "methods": ["lora"],
                     "parameters": [{"name": "release", "type": "string"}],
                     "models": [{"id": "tiny", "name": "Tiny", "uri": "file:///models/tiny"}],
                     "resources": {"gpus": 0}},
        })
        made.append(name)
        return name

    yield make
    for name in made:
        custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", name)


@pytest.fixture
def trainer(make_trainer: Callable[..., str]) -> str:
    return make_trainer()


@pytest.fixture
def cluster_queue(custom: client.CustomObjectsApi, kueue: Kueue, namespace: str) -> Iterator[Callable[[str], str]]:
    """cluster_queue(cpu) -> a ClusterQueue with that CPU quota and a LocalQueue `gpu-a` of the test namespace."""
    made: list[tuple[str, str]] = []

    def make(cpu: str) -> str:
        flavor = f"flavor-{uuid.uuid4().hex[:8]}"
        name = f"cq-{uuid.uuid4().hex[:8]}"
        custom.create_cluster_custom_object(KUEUE_GROUP, KUEUE_VERSION, "resourceflavors", {
            "apiVersion": f"{KUEUE_GROUP}/{KUEUE_VERSION}", "kind": "ResourceFlavor", "metadata": {"name": flavor}})
        made.append(("resourceflavors", flavor))
        custom.create_cluster_custom_object(KUEUE_GROUP, KUEUE_VERSION, "clusterqueues", {
            "apiVersion": f"{KUEUE_GROUP}/{KUEUE_VERSION}", "kind": "ClusterQueue", "metadata": {"name": name},
            "spec": {"namespaceSelector": {}, "queueingStrategy": "BestEffortFIFO", "resourceGroups": [{
                "coveredResources": ["cpu", "memory"],
                "flavors": [{"name": flavor, "resources": [{"name": "cpu", "nominalQuota": cpu},
                                                           {"name": "memory", "nominalQuota": "64Gi"}]}],
            }]},
        })
        made.append(("clusterqueues", name))
        custom.create_namespaced_custom_object(KUEUE_GROUP, KUEUE_VERSION, namespace, "localqueues", {
            "apiVersion": f"{KUEUE_GROUP}/{KUEUE_VERSION}", "kind": "LocalQueue",
            "metadata": {"name": "gpu-a"}, "spec": {"clusterQueue": name},
        })
        return name

    yield make
    for plural, name in reversed(made):
        custom.delete_cluster_custom_object(KUEUE_GROUP, KUEUE_VERSION, plural, name)


@pytest.fixture
def release_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def make_training(custom: client.CustomObjectsApi, namespace: str, trainer: str, store: Path,
                  release_dir: Path) -> Callable[..., dict[str, Any]]:
    """make_training(name, queue="gpu-a", cpu="1", **spec): a Training that runs until release(name)."""

    def make(name: str, queue: str | None = "gpu-a", cpu: str = "1", labels: dict[str, str] | None = None,
             **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "apiVersion": "kubetune.io/v1alpha1", "kind": "Training",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {
                "trainerRef": trainer, "baseModel": "tiny",
                "dataset": {"uri": f"file://{store}/{namespace}/data/chat.jsonl", "format": "openai_chat_jsonl"},
                "hyperparameters": {"extra": {"release": str(release_dir / name)}},
                "resources": {"cpu": cpu},
                **({"queue": queue} if queue else {}),
                **spec,
            },
        }
        return dict(custom.create_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings", body))

    return make

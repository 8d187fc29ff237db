"""The operator in-process against the real control plane, with its own local node running pods."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from node_scheduling import schedulable_during
from operator_waits import Obj, Resources

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

NODE = "operator-test-node"
GPU_PRODUCT = "kubetune-fake-gpu"

# Stand-in trainer: reads its mounted run config, reports an eval loss into its own status
# with its own service account (least privilege), writes a termination message, exits with a code.
TRAINER_SCRIPT = r"""
import json, os, sys, time
from kubetune.localdev.node.paths import resolve, load_incluster_config
config = json.load(open(resolve(sys.argv[sys.argv.index("--config") + 1])))
hp = config["hyperparameters"]
behaviour = hp["extra"].get("behaviour", "succeed")
msg_path = os.environ.get("KUBETUNE_TERMINATION_MESSAGE_PATH", "/dev/termination-log")
if behaviour == "sleep":
    while True:
        time.sleep(0.5)
if behaviour == "artifact":  # leave a file in the output on the artifact store
    out = resolve(config["output"].removeprefix("file://"))
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "hello.txt"), "w").write(os.environ["KUBETUNE_TRAINING_NAMESPACE"])
if behaviour == "oom":  # touch far more memory than the pod's limit, then wait for the kill
    hog = bytearray(512 * 1024 * 1024)
    while True:
        time.sleep(0.5)
if behaviour == "report":
    from kubernetes import client
    load_incluster_config()
    api = client.CustomObjectsApi()
    ns, name = os.environ["KUBETUNE_TRAINING_NAMESPACE"], os.environ["KUBETUNE_TRAINING_NAME"]
    loss = abs(hp["learningRate"] - 3e-4) * 1000 + hp["loraRank"] / 100
    api.patch_namespaced_custom_object_status("kubetune.io", "v1alpha1", ns, "trainings", name,
        {"status": {"metrics": {"eval_loss": loss}, "output": config["output"]}})
if behaviour == "fail":
    open(msg_path, "w").write("stand-in trainer: loss is NaN at step 3")
    sys.exit(int(hp["extra"].get("exit_code", 3)))
open(msg_path, "w").write("done")
"""

# Stand-in inference server: answers /readyz and /healthz on the address the operator configures.
SERVER_SCRIPT = r"""
import http.server, os
KEYS = os.environ.get("KUBETUNE_SERVE_API_KEY_FILE")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path in ("/readyz", "/healthz")
        if self.path == "/readyz" and KEYS:  # as kubetune-serve: not ready without its mounted keys
            files = [os.path.join(KEYS, f) for f in os.listdir(KEYS) if not f.startswith(".")] \
                if os.path.isdir(KEYS) else [KEYS]
            ok = any(os.path.isfile(f) and open(f).read().strip() != "" for f in files)
        self.send_response(200 if ok else 404); self.end_headers()
        self.wfile.write(os.environ.get("KUBETUNE_SERVE_MODEL_VERSION", "").encode())
    def log_message(self, *a): pass
address = (os.environ["KUBETUNE_SERVE_HOST"], int(os.environ["KUBETUNE_SERVE_PORT"]))
http.server.ThreadingHTTPServer(address, H).serve_forever()
"""


@pytest.fixture(scope="session")
def operator_node(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeAgent]:
    """A node with one fake GPU, separate from the localdev tests' node."""
    config = NodeConfig(
        kubeconfig=control_plane.kubeconfig,
        name=NODE,
        gpus=1,
        gpu_product=GPU_PRODUCT,
        state_dir=tmp_path_factory.mktemp("operator-node"),
        restart_backoff_seconds=1.0,
    )
    with NodeAgent(config) as agent:
        yield agent


@pytest.fixture(autouse=True, scope="module")
def _operator_node_open_here(operator_node: NodeAgent, api_client: client.ApiClient) -> Iterator[None]:
    """This folder's node takes pods only during this folder's modules (see node_scheduling)."""
    with schedulable_during(api_client, NODE):
        yield


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


def operator_settings(control_plane: ControlPlane, artifacts: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kubeconfig": str(control_plane.kubeconfig),
        "artifact_pvc": None,
        "artifact_mount_path": str(artifacts),
        "leader_election": False,
        "metrics_port": 0,
        "health_port": 0,
        "log_format": "text",
        "runtime_image": "kubetune/runtime:test",
        "default_backoff_limit": 0,
        "serve_command": [sys.executable, "-c", SERVER_SCRIPT],
        "workers": 8,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, artifacts: Path, operator_node: NodeAgent) -> Iterator[OperatorThread]:
    """Per module, so a module may run its own operators (the restart test) without this one."""
    with OperatorThread(operator_settings(control_plane, artifacts)) as op:
        yield op


@pytest.fixture
def resources(api_client: client.ApiClient) -> Resources:
    return Resources(api_client)


def trainer_body(name: str, **spec: Any) -> Obj:
    body: Obj = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Trainer",
        "metadata": {"name": name},
        "spec": {
            "image": "kubetune/runtime:test",
            "command": [sys.executable, "-c", TRAINER_SCRIPT],
            "tasks": ["causal-lm"],
            "methods": ["lora"],
            "parameters": [
                {"name": "learning_rate", "type": "float", "default": 1e-4, "minimum": 1e-6, "maximum": 1e-2},
                {"name": "lora_rank", "type": "int", "default": 8, "minimum": 1, "maximum": 64},
                {
                    "name": "behaviour",
                    "type": "string",
                    "default": "succeed",
                    "choices": ["succeed", "fail", "sleep", "report", "oom", "artifact"],
                },
                {"name": "exit_code", "type": "int", "minimum": 1, "maximum": 255},
            ],
            "models": [{"id": "tiny", "name": "Tiny", "uri": "file:///models/tiny"}],
            "resources": {"gpus": 0},
        },
    }
    body["spec"].update(spec)
    return body


@pytest.fixture
def trainer(resources: Resources, api_client: client.ApiClient) -> Iterator[str]:
    """A cluster-scoped Trainer running the stand-in script, removed after the test."""
    name = f"tr-{uuid.uuid4().hex[:8]}"
    resources.create("trainers", None, trainer_body(name))
    yield name
    resources.custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", name)


@pytest.fixture
def make_trainer(resources: Resources) -> Iterator[Callable[..., str]]:
    """make_trainer(**spec overrides) -> the name of a new cluster-scoped Trainer, removed after the test."""
    made: list[str] = []

    def make(**spec: Any) -> str:
        name = f"tr-{uuid.uuid4().hex[:8]}"
        resources.create("trainers", None, trainer_body(name, **spec))
        made.append(name)
        return name

    yield make
    for name in made:
        resources.custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", name)


@pytest.fixture
def store_root(artifacts: Path) -> str:
    """The store's directory in file:// uris (the operator's artifact_mount_path); a module whose operator
    mounts the store elsewhere overrides it."""
    return str(artifacts)


@pytest.fixture
def make_training(resources: Resources, namespace: str, trainer: str, store_root: str) -> Callable[..., Obj]:
    """Create a Training in the test namespace: make_training(name, behaviour=..., **spec)."""

    def make(name: str, behaviour: str = "succeed", extra: dict[str, Any] | None = None, **spec: Any) -> Obj:
        body: Obj = {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Training",
            "metadata": {"name": name},
            "spec": {
                "trainerRef": trainer,
                "baseModel": "tiny",
                # In the project's own prefix of the store: the only place a Training may read.
                "dataset": {"uri": f"file://{store_root}/{namespace}/data/chat.jsonl", "format": "openai_chat_jsonl"},
                "hyperparameters": {"extra": {"behaviour": behaviour, **(extra or {})}},
            },
        }
        body["spec"].update(spec)
        return resources.create("trainings", namespace, body)

    return make

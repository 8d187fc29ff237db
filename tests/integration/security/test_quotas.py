"""Per-project quotas on the real control plane: a Training over its project's quota waits, Queued with
reason QuotaExceeded (never Failed), and runs once the first Training has finished.

The operator runs in-process with a chart-like projectQuota of 1 GPU; a local node advertises 2 fake
GPUs, so the quota (not the node) is what holds the second Training back. The stand-in trainer waits
for a release file, so the test decides when the first Training finishes.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_waits import wait_for
from kubernetes import client
from operator_waits import Obj, Resources, condition

from kubetune.crd import labels as lbl
from kubetune.crd.project_quota import OVERRIDE_KEY, QUOTA_NAME, REVISION_ANNOTATION, override_config_map_name
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.builders.quota import LIMIT_RANGE_NAME, ProjectQuota, QuotaLimits
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration

GPU_QUOTA = "requests.nvidia.com/gpu"
# Waits until the file named by the `release` parameter exists, then succeeds.
TRAINER_SCRIPT = r"""
import json, os, sys, time
from kubetune.localdev.node.paths import resolve
config = json.load(open(resolve(sys.argv[sys.argv.index("--config") + 1])))
release = config["hyperparameters"]["extra"]["release"]
while not os.path.exists(release):
    time.sleep(0.2)
open(os.environ.get("KUBETUNE_TERMINATION_MESSAGE_PATH", "/dev/termination-log"), "w").write("released")
"""


@pytest.fixture(scope="module")
def gpu_node(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeAgent]:
    config = NodeConfig(kubeconfig=control_plane.kubeconfig, name="quota-test-node", gpus=2,
                        gpu_product="kubetune-quota-gpu", storage_class=None,
                        state_dir=tmp_path_factory.mktemp("quota-node"), restart_backoff_seconds=1.0)
    with NodeAgent(config) as agent:
        yield agent


@pytest.fixture(scope="module")
def platform_namespace(api_client: client.ApiClient) -> Iterator[str]:
    """The operator's own namespace, where administrators' quota overrides live."""
    core = client.CoreV1Api(api_client)
    name = f"ktq-system-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture(scope="module")
def quota_operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory, gpu_node: NodeAgent,
                   platform_namespace: str) -> Iterator[OperatorThread]:
    settings = Settings(
        kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, pod_namespace=platform_namespace,
        artifact_mount_path=str(tmp_path_factory.mktemp("quota-artifacts")), leader_election=False,
        metrics_port=0, health_port=0, log_format="text", runtime_image="kubetune/runtime:test",
        default_backoff_limit=0, workers=4,
        project_quota=ProjectQuota(limits=QuotaLimits(gpus=1, pods=10)),
    )
    with OperatorThread(settings) as op:
        yield op


@pytest.fixture
def project(api_client: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(api_client)
    name = f"kt-quota-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name, "labels": {lbl.PROJECT: name.removeprefix("kt-")}}})
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def gpu_trainer(resources: Resources) -> Iterator[str]:
    name = f"tr-{uuid.uuid4().hex[:8]}"
    resources.create("trainers", None, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": name},
        "spec": {"image": "kubetune/runtime:test", "command": [sys.executable, "-c", TRAINER_SCRIPT],
                 "tasks": ["causal-lm"], "methods": ["lora"],
                 "parameters": [{"name": "release", "type": "string", "default": "/nonexistent"},
                                {"name": "learning_rate", "type": "float", "default": 1e-4, "minimum": 1e-6,
                                 "maximum": 1e-2}],
                 "models": [{"id": "tiny", "name": "Tiny", "uri": "file:///models/tiny"}],
                 "resources": {"gpus": 1}}})
    yield name
    resources.custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", name)


@pytest.fixture
def resources(api_client: client.ApiClient) -> Resources:
    return Resources(api_client)


def training(resources: Resources, op: OperatorThread, namespace: str, name: str, trainer: str,
             release: Path, **spec: Any) -> Obj:
    store = op.settings.artifact_mount_path  # the project's own prefix: the only place a Training may read
    body: dict[str, Any] = {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
        "spec": {"trainerRef": trainer, "baseModel": "tiny",
                 "dataset": {"uri": f"file://{store}/{namespace}/data/chat.jsonl", "format": "openai_chat_jsonl"},
                 "hyperparameters": {"extra": {"release": str(release)}}}}
    body["spec"].update(spec)
    return resources.create("trainings", namespace, body)


def wait_quota(core: client.CoreV1Api, namespace: str, gpus: str) -> Obj:
    """The project's ResourceQuota once Kubernetes enforces `gpus` (status.hard is what admission uses)."""
    return wait_for(core.list_namespaced_resource_quota,
                    lambda q: (q.get("status") or {}).get("hard", {}).get(GPU_QUOTA) == gpus, namespace,
                    field_selector=f"metadata.name={QUOTA_NAME}")


def test_a_training_over_quota_is_queued_then_runs(quota_operator: OperatorThread, api_client: client.ApiClient,
                                                    resources: Resources, project: str, gpu_trainer: str,
                                                    tmp_path: Path) -> None:
    core = client.CoreV1Api(api_client)
    quota = wait_quota(core, project, "1")
    assert quota["spec"]["hard"] == {GPU_QUOTA: "1", "pods": "10"}
    limit_range = core.read_namespaced_limit_range(LIMIT_RANGE_NAME, project).to_dict()
    assert limit_range["spec"]["limits"][0]["default_request"] == {"cpu": "100m", "memory": "256Mi"}

    release = tmp_path / "release"
    training(resources, quota_operator, project, "first", gpu_trainer, release)
    resources.wait_phase("trainings", project, "first", "Running", timeout=180)

    training(resources, quota_operator, project, "second", gpu_trainer, release)
    queued = resources.wait("trainings", project, "second",
                            lambda o: condition(o, "Queued").get("reason") == "QuotaExceeded", timeout=180)
    assert queued["status"]["phase"] == "Queued"
    assert condition(queued, "Queued")["status"] == "True"
    assert "exceeded quota" in condition(queued, "Queued")["message"]
    assert condition(queued, "Failed").get("status") != "True"
    assert not core.list_namespaced_pod(project, label_selector=f"{lbl.TRAINING}=second").items

    release.write_text("go")  # the first Training finishes; its pod stops counting against the quota
    resources.wait_phase("trainings", project, "first", "Succeeded", timeout=180)
    done = resources.wait_phase("trainings", project, "second", "Succeeded", "Failed", timeout=300)
    assert done["status"]["phase"] == "Succeeded", done["status"]


def test_hpo_trials_count_against_the_quota_one_by_one(quota_operator: OperatorThread, api_client: client.ApiClient,
                                                       resources: Resources, project: str, gpu_trainer: str,
                                                       tmp_path: Path) -> None:
    core = client.CoreV1Api(api_client)
    wait_quota(core, project, "1")
    release = tmp_path / "release"
    hpo = {"enabled": True, "strategy": "grid", "maxTrials": 2, "parallelTrials": 2,
           "parameters": [{"name": "learningRate", "values": [1e-4, 2e-4]}]}
    training(resources, quota_operator, project, "search", gpu_trainer, release, hpo=hpo)
    trials = ("search-trial-0", "search-trial-1")
    waiting = wait_for(resources.custom.list_namespaced_custom_object,
                       lambda o: condition(o, "Queued").get("reason") == "QuotaExceeded",
                       "kubetune.io", "v1alpha1", project, "trainings", label_selector=f"{lbl.HPO_PARENT}=search",
                       timeout=180)
    (other,) = [t for t in trials if t != waiting["metadata"]["name"]]
    assert resources.wait_phase("trainings", project, other, "Running", timeout=180)["status"]["phase"] == "Running"

    release.write_text("go")  # 2 parallel trials x 1 GPU on a 1-GPU quota: the second runs after the first
    for trial in trials:
        done = resources.wait_phase("trainings", project, trial, "Succeeded", "Failed", timeout=300)
        assert done["status"]["phase"] == "Succeeded", done["status"]


def test_an_admin_override_changes_the_enforced_quota(quota_operator: OperatorThread, api_client: client.ApiClient,
                                                      project: str, platform_namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    wait_quota(core, project, "1")
    # What the admin route does: the override in the platform's namespace, then a stamp on the project.
    name = override_config_map_name(project)
    core.create_namespaced_config_map(platform_namespace, {"metadata": {"name": name},
                                                           "data": {OVERRIDE_KEY: json.dumps({"gpus": 3})}})
    core.patch_namespace(project, {"metadata": {"annotations": {REVISION_ANNOTATION: "1"}}})
    raised = wait_quota(core, project, "3")
    assert raised["spec"]["hard"] == {GPU_QUOTA: "3", "pods": "10"}

    # Someone editing the ResourceQuota (a project admin cannot; a cluster admin might) gets it put back.
    core.patch_namespaced_resource_quota(QUOTA_NAME, project, {"spec": {"hard": {GPU_QUOTA: "50"}}})
    core.patch_namespace(project, {"metadata": {"annotations": {REVISION_ANNOTATION: "2"}}})
    wait_for(core.list_namespaced_resource_quota,
             lambda q: q["spec"]["hard"] == {GPU_QUOTA: "3", "pods": "10"}, project,
             field_selector=f"metadata.name={QUOTA_NAME}")

    core.delete_namespaced_config_map(name, platform_namespace)
    core.patch_namespace(project, {"metadata": {"annotations": {REVISION_ANNOTATION: "3"}}})
    wait_quota(core, project, "1")

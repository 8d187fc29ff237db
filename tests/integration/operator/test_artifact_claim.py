"""The artifact store in project namespaces: a claim of the same name, bound to a copy of the platform's volume."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import operator_settings
from kubernetes import client
from operator_waits import Obj, Resources, wait_for, wait_gone

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.operator.inprocess import OperatorThread

CLAIM = "kubetune-artifacts"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory behind the platform's volume (an NFS export on a real cluster)."""
    return tmp_path_factory.mktemp("shared-store")


@pytest.fixture(scope="module")
def platform(api_client: client.ApiClient, store: Path) -> Iterator[tuple[str, str]]:
    """The operator's namespace with the platform claim, bound to a volume on `store`: (namespace, volume)."""
    core = client.CoreV1Api(api_client)
    name, volume = f"platform-{uuid.uuid4().hex[:8]}", f"artifacts-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_persistent_volume({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"], "storageClassName": "",
                 "hostPath": {"path": str(store)}, "persistentVolumeReclaimPolicy": "Retain",
                 "claimRef": {"namespace": name, "name": CLAIM}}})
    core.create_namespaced_persistent_volume_claim(name, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": CLAIM},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": volume,
                 "resources": {"requests": {"storage": "1Gi"}}}})
    wait_for(core.list_namespaced_persistent_volume_claim, lambda c: c["status"].get("phase") == "Bound", name,
             field_selector=f"metadata.name={CLAIM}")
    yield name, volume
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, artifacts: Path, operator_node: NodeAgent,
             platform: tuple[str, str]) -> Iterator[OperatorThread]:
    """This module's operator mounts the artifact claim, as the chart's does with storage.type pvc."""
    settings = operator_settings(control_plane, artifacts, pod_namespace=platform[0], artifact_pvc=CLAIM,
                                 artifact_mount_path="/var/lib/kubetune/artifacts")
    with OperatorThread(settings) as op:
        yield op


@pytest.fixture
def store_root() -> str:
    return "/var/lib/kubetune/artifacts"  # this module's operator mounts the store there


def test_a_project_namespace_gets_a_claim_on_the_same_files(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    platform: tuple[str, str], store: Path, make_training: Callable[..., Obj]
) -> None:
    make_training("writes", behaviour="artifact")
    done = resources.wait_phase("trainings", namespace, "writes", "Succeeded", "Failed")
    assert done["status"]["phase"] == "Succeeded", done["status"].get("message")

    core = client.CoreV1Api(api_client)
    claim = core.read_namespaced_persistent_volume_claim(CLAIM, namespace)
    assert claim.status.phase == "Bound"
    copy = core.read_persistent_volume(claim.spec.volume_name)
    assert copy.spec.host_path.path == str(store)  # the platform volume's source
    assert copy.spec.persistent_volume_reclaim_policy == "Retain"  # deleting a project never deletes the data
    # What the pod wrote in its own namespace is in the platform's store, where the api and serving read it.
    assert (store / namespace / "trainings" / "writes" / "hello.txt").read_text() == namespace


def _fresh_namespace(core: client.CoreV1Api, name: str) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(core.list_namespaced_service_account, lambda sa: True, name, field_selector="metadata.name=default")


def test_a_namespace_created_again_gets_its_claim_back(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, store: Path, trainer: str
) -> None:
    core = client.CoreV1Api(api_client)
    name = f"reborn-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": "again"},
            "spec": {"trainerRef": trainer, "baseModel": "tiny",
                     "dataset": {"uri": f"file:///var/lib/kubetune/artifacts/{name}/data/chat.jsonl",
                                 "format": "openai_chat_jsonl"},
                     "hyperparameters": {"extra": {"behaviour": "artifact"}}}}
    for _ in range(2):  # the second time, the namespace's old volume copy is Released and must be reused
        _fresh_namespace(core, name)
        resources.create("trainings", name, body)
        done = resources.wait_phase("trainings", name, "again", "Succeeded", "Failed")
        assert done["status"]["phase"] == "Succeeded", done["status"].get("message")
        assert (store / name / "trainings" / "again" / "hello.txt").read_text() == name
        (store / name / "trainings" / "again" / "hello.txt").unlink()
        core.delete_namespace(name)
        wait_gone(core.list_namespace, name)

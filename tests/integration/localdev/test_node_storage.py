"""PersistentVolumeClaims on the local node: provisioned as a directory, shared by the pods
that mount the claim, deleted with the claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client
from node_waits import Obj, container_state, wait_for, wait_gone

from kubetune.localdev.node.agent import NodeAgent

pytestmark = pytest.mark.integration


def claim_pod(name: str, script: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "artifacts"}}],
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", script],
                    "volumeMounts": [{"name": "data", "mountPath": "/artifacts"}],
                }
            ],
        },
    }


def finished(core: client.CoreV1Api, namespace: str, name: str) -> Obj:
    pod = wait_for(
        core.list_namespaced_pod,
        lambda p: p["status"].get("phase") in ("Succeeded", "Failed"),
        namespace,
        field_selector=f"metadata.name={name}",
    )
    return dict(container_state(pod)["terminated"])


def test_claim_is_provisioned_shared_and_deleted(core: client.CoreV1Api, namespace: str, local_node: NodeAgent) -> None:
    # No storageClassName: the agent's class is the default one.
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "artifacts"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    writer = 'echo adapter-weights > "$KUBETUNE_MOUNT_ARTIFACTS/model.bin"'
    core.create_namespaced_pod(namespace, claim_pod("writer", writer))
    assert finished(core, namespace, "writer")["exitCode"] == 0

    reader = 'cat "$KUBETUNE_MOUNT_ARTIFACTS/model.bin" > "$KUBETUNE_TERMINATION_MESSAGE_PATH"'
    core.create_namespaced_pod(namespace, claim_pod("reader", reader))
    assert finished(core, namespace, "reader")["message"] == "adapter-weights\n"

    claim = wait_for(
        core.list_namespaced_persistent_volume_claim,
        lambda c: c["status"].get("phase") == "Bound",
        namespace,
        field_selector="metadata.name=artifacts",
    )
    volume = core.read_persistent_volume(claim["spec"]["volumeName"])
    directory = Path(volume.spec.host_path.path)
    assert (directory / "model.bin").read_text() == "adapter-weights\n"

    for name in ("writer", "reader"):
        core.delete_namespaced_pod(name, namespace)
        wait_gone(core.list_namespaced_pod, name, namespace)
    core.delete_namespaced_persistent_volume_claim("artifacts", namespace)
    wait_gone(core.list_persistent_volume, claim["spec"]["volumeName"])
    assert not directory.exists()

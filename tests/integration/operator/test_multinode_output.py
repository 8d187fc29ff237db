"""A multi-node Training whose nodes cannot share one output is refused before any Job exists: on the
real API server, with the operator's artifact store on a ReadWriteOnce claim, and with an s3:// output;
a ReadWriteMany claim gets its Job. No pod runs here (the accepted Training is created stopped)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import operator_settings
from kubernetes import client
from operator_waits import Obj, Resources, condition

from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.inprocess import OperatorThread

pytestmark = pytest.mark.integration

STORE_CLAIM = "kt-store"
BUCKET = "s3://kt-bucket/runs"


@pytest.fixture(scope="module")
def claim_operator(control_plane: ControlPlane, artifacts: Path) -> Iterator[OperatorThread]:
    """An operator whose artifact store is a claim (as the chart's), and with an object store allowed."""
    settings = operator_settings(control_plane, artifacts, artifact_pvc=STORE_CLAIM, object_store_root=BUCKET)
    with OperatorThread(settings) as op:
        yield op


def _claim(api_client: client.ApiClient, namespace: str, name: str, mode: str) -> None:
    client.CoreV1Api(api_client).create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": name},
        "spec": {"accessModes": [mode], "resources": {"requests": {"storage": "1Gi"}}}})


def _refused(resources: Resources, namespace: str, name: str) -> Obj:
    done = resources.wait_phase("trainings", namespace, name, "Failed", "Running", "Succeeded")
    assert done["status"]["phase"] == "Failed", done["status"]
    assert condition(done, "Failed")["reason"] == "OutputNotShared"
    return done


def test_outputs_the_nodes_cannot_share_are_refused_without_a_job(
    claim_operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    artifacts: Path, make_training: Callable[..., Obj],
) -> None:
    data = artifacts / namespace / "data" / "chat.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n')
    _claim(api_client, namespace, STORE_CLAIM, "ReadWriteOnce")  # the store as a single-node cluster has it
    _claim(api_client, namespace, "shared", "ReadWriteMany")

    make_training("on-rwo", nodes=2)  # the default output: the artifact store
    message = _refused(resources, namespace, "on-rwo")["status"]["message"]
    assert f"claim {STORE_CLAIM} is ReadWriteOnce, not ReadWriteMany" in message

    make_training("on-s3", nodes=2, output=f"{BUCKET}/{namespace}/on-s3")
    assert "uploaded from node 0 only" in _refused(resources, namespace, "on-s3")["status"]["message"]

    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    assert not batch.list_namespaced_job(namespace).items
    assert not core.list_namespaced_service(namespace).items  # not even the headless Service

    # One node on the same store, and two nodes on a ReadWriteMany claim, get their Jobs (stopped: no pod).
    make_training("one-node", suspend=True)
    make_training("on-rwx", nodes=2, suspend=True, output=f"pvc://shared/{namespace}/on-rwx")
    for name in ("one-node", "on-rwx"):
        resources.wait("trainings", namespace, name, lambda t: bool((t.get("status") or {}).get("jobName")))
        assert batch.read_namespaced_job(f"{name}-train", namespace).spec.suspend is True

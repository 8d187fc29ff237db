"""Object-store credentials: each Training gets its own copy of the platform's Secret, used by its pod."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import operator_settings
from kubernetes import client
from operator_waits import Obj, Resources

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.operator.inprocess import OperatorThread

SECRET = "platform-s3"


@pytest.fixture(scope="module")
def platform_namespace(api_client: client.ApiClient) -> Iterator[str]:
    """Where the chart would install the operator and its credentials Secret."""
    core = client.CoreV1Api(api_client)
    name = f"platform-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_secret(name, client.V1Secret(
        metadata=client.V1ObjectMeta(name=SECRET),
        string_data={"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "not-logged", "other": "x"}))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, artifacts: Path, operator_node: NodeAgent,
             platform_namespace: str) -> Iterator[OperatorThread]:
    """This module's operator is configured with an object store."""
    settings = operator_settings(control_plane, artifacts, pod_namespace=platform_namespace,
                                 object_store_secret=SECRET, object_store_endpoint="http://minio.example:9000")
    with OperatorThread(settings) as op:
        yield op


def test_a_training_gets_its_own_copy_of_the_credentials(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    make_training: Callable[..., Obj]
) -> None:
    training = make_training("with-s3")
    done = resources.wait_phase("trainings", namespace, "with-s3", "Succeeded", "Failed")
    # The pod started, so its secretKeyRefs resolved in its own namespace.
    assert done["status"]["phase"] == "Succeeded", done["status"].get("message")

    core, batch = client.CoreV1Api(api_client), client.BatchV1Api(api_client)
    copy = core.read_namespaced_secret("with-s3-storage", namespace)
    assert sorted(copy.data) == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]  # only the credentials
    assert base64.b64decode(copy.data["AWS_ACCESS_KEY_ID"]) == b"AKIATEST"
    assert copy.metadata.owner_references[0].uid == training["metadata"]["uid"]  # collected with it
    env = {e.name: e for e in batch.read_namespaced_job("with-s3-train", namespace).spec.template.spec
           .containers[0].env}
    assert env["AWS_SECRET_ACCESS_KEY"].value_from.secret_key_ref.name == "with-s3-storage"
    assert env["AWS_ENDPOINT_URL"].value == "http://minio.example:9000"


def test_a_missing_platform_secret_keeps_the_training_pending_with_the_reason(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    platform_namespace: str, make_training: Callable[..., Obj]
) -> None:
    core = client.CoreV1Api(api_client)
    core.delete_namespaced_secret(SECRET, platform_namespace)
    make_training("no-keys")
    pending = resources.wait("trainings", namespace, "no-keys",
                             lambda o: (o.get("status") or {}).get("phase") == "Pending"
                             and "does not exist" in o["status"].get("message", ""))
    assert f"{platform_namespace}/{SECRET}" in pending["status"]["message"]
    assert client.BatchV1Api(api_client).list_namespaced_job(namespace).items == []

"""Deleting a project, or a Training with artifactPolicy Delete, removes its objects in the bucket and
nothing else; a store the operator cannot use holds the Namespace (Warning Event) instead of being skipped.

The real control plane, the operator in-process with object storage configured, and a real S3 endpoint:
moto's threaded server on 127.0.0.1. The operator reads the platform's credential Secret from its own
namespace, as in a cluster. The file-store variant of these cases is in test_pipeline_isolation.py.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from operator_waits import Resources, wait_event, wait_for, wait_gone

from kubetune.crd import labels as lbl
from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.cleanup import PROJECT_FINALIZER, TRAINING_FINALIZER
from kubetune.operator.handlers import store_cleanup
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.object_cleanup import store_client
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration

ACCESS = ("kubetune-cleanup-test", "kubetune-cleanup-secret")
SECRET = "kt-object-store"


@dataclass
class Store:
    s3: Any  # a botocore client on the endpoint
    bucket: str
    system: str  # the operator's namespace, holding the credential Secret
    a: str
    b: str

    def put(self, *keys: str) -> None:
        for key in keys:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"x")

    def objects(self) -> set[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents") or ()}


def _secret(name: str) -> client.V1Secret:
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name), data={
        "AWS_ACCESS_KEY_ID": base64.b64encode(ACCESS[0].encode()).decode(),
        "AWS_SECRET_ACCESS_KEY": base64.b64encode(ACCESS[1].encode()).decode()})


def _project_namespace_only(core: client.CoreV1Api, name: str) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={lbl.PROJECT: name})))


def _project(core: client.CoreV1Api, name: str) -> None:
    """A project Namespace, once the operator has put its finalizer on it."""
    _project_namespace_only(core, name)
    wait_for(core.list_namespace, lambda ns: PROJECT_FINALIZER in (ns["metadata"].get("finalizers") or ()),
             field_selector=f"metadata.name={name}")


@pytest.fixture(scope="module")
def store(control_plane: ControlPlane, api_client: client.ApiClient,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    aws_home = tmp_path_factory.mktemp("aws")
    tag = uuid.uuid4().hex[:6]
    core = client.CoreV1Api(api_client)
    system, a, b = f"kts-{tag}", f"obj-a-{tag}", f"obj-b-{tag}"
    with pytest.MonkeyPatch.context() as env:
        # Nothing of the machine's own AWS configuration may reach the operator's client.
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(aws_home / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_home / "credentials"))
        env.setattr(store_cleanup, "RETRY_SECONDS", 1.0)  # the retry test waits for a retry, not for 30 s
        s3 = store_client(ACCESS, endpoint, "us-east-1")
        bucket = f"kt-{tag}"
        s3.create_bucket(Bucket=bucket)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=system)))
        core.create_namespaced_secret(system, _secret(SECRET))
        for name in (a, b):
            _project_namespace_only(core, name)
        settings = Settings(kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None,
                            artifact_mount_path=str(Path(tmp_path_factory.mktemp("files"))), namespaces=[a, b],
                            pod_namespace=system, leader_election=False, metrics_port=0, health_port=0,
                            log_format="text", workers=4, object_store_root=f"s3://{bucket}/projects",
                            object_store_secret=SECRET, object_store_endpoint=endpoint,
                            object_store_region="us-east-1")
        try:
            with OperatorThread(settings):
                yield Store(s3, bucket, system, a, b)
                for name in (a, b):
                    core.delete_namespace(name)
                for name in (a, b):
                    wait_gone(core.list_namespace, name)
        finally:
            core.delete_namespace(system)
            server.stop()


def _training(name: str, output: str, policy: str) -> dict[str, Any]:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
            "spec": {"trainerRef": "no-such-trainer", "baseModel": "hf://tiny/model", "artifactPolicy": policy,
                     "output": output,
                     "dataset": {"uri": "hf://tiny/data", "format": "openai_chat_jsonl"}}}


def test_a_delete_policy_training_removes_its_output_prefix_only(store: Store, api_client: client.ApiClient) -> None:
    resources = Resources(api_client)
    runs = f"projects/{store.a}/trainings"
    others = {f"{runs}/run10/adapter/w.bin", f"{runs}/kept/adapter/w.bin", f"projects/{store.a}/datasets/d.jsonl",
              f"projects/{store.b}/trainings/run1/adapter/w.bin"}
    store.put(f"{runs}/run1/adapter/w.bin", f"{runs}/run1/checkpoints/step-1/state.pt", *others)
    for name, policy in (("run1", "Delete"), ("kept", "Keep")):
        resources.create("trainings", store.a, _training(name, f"s3://{store.bucket}/{runs}/{name}", policy))
    resources.wait("trainings", store.a, "run1",
                   lambda o: TRAINING_FINALIZER in (o["metadata"].get("finalizers") or ()))
    for name in ("run1", "kept"):
        resources.delete("trainings", store.a, name)
    for name in ("run1", "kept"):
        wait_gone(resources.custom.list_namespaced_custom_object, name, "kubetune.io", "v1alpha1", store.a,
                  "trainings")
    left = store.objects()
    assert not {key for key in left if key.startswith(f"{runs}/run1/")}
    assert others <= left  # run10 shares the characters "run1", not the prefix "run1/"


def test_deleting_a_project_removes_its_objects_and_nobody_elses(store: Store, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    gone = f"{store.a}-p"
    _project(core, gone)
    mine = {f"projects/{gone}/datasets/d/chat.jsonl", f"projects/{gone}/trainings/t/adapter/w.bin"}
    theirs = {f"projects/{gone}x/datasets/d.jsonl",  # a name that merely starts like it
              f"projects/{store.b}/datasets/d.jsonl", f"other/{gone}/keep.bin", f"{gone}/keep.bin"}
    store.put(*mine, *theirs)
    core.delete_namespace(gone)
    wait_gone(core.list_namespace, gone)
    left = store.objects()
    assert not {key for key in left if key.startswith(f"projects/{gone}/")}
    assert theirs <= left


def test_a_store_the_operator_cannot_use_holds_the_namespace_until_it_can(
        store: Store, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    held = f"{store.a}-h"
    _project(core, held)
    store.put(f"projects/{held}/datasets/d.jsonl")
    core.delete_namespaced_secret(SECRET, store.system)
    try:
        core.delete_namespace(held)
        event = wait_event(core, "default", held, "ArtifactCleanupFailed", "Warning")
        assert SECRET in event["message"] and ACCESS[1] not in event["message"]
        ns = core.read_namespace(held)
        assert PROJECT_FINALIZER in (ns.metadata.finalizers or [])  # kept, not dropped
        assert f"projects/{held}/datasets/d.jsonl" in store.objects()
    finally:
        core.create_namespaced_secret(store.system, _secret(SECRET))
    wait_gone(core.list_namespace, held)  # the retry, now with credentials
    assert not {key for key in store.objects() if key.startswith(f"projects/{held}/")}

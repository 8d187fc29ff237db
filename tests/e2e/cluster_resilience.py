"""Helpers for the Training tests on a real cluster: a project namespace with the chat dataset in its prefix
of the store (written by a Job on the runtime image), Trainings created in it, and waits on a Training's
status (list, then watch)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from cluster_target import ClusterTarget, release_artifact_claim, run_store_job
from kubernetes import client, watch

from kubetune.crd import GROUP, VERSION

Obj = dict[str, Any]


def write_project_dataset(target: ClusterTarget, api: client.ApiClient, project: str, timeout: int = 600) -> str:
    """The memorisable chat dataset at <store>/<project>/chat.jsonl; returns its file:// uri."""
    path = f"{target.artifact_mount}/{project}/chat.jsonl"
    script = ("import os; from kubetune.testing.chat_data import memorisable_chat_jsonl; "
              f"os.makedirs(os.path.dirname({path!r}), exist_ok=True); "
              f"open({path!r}, 'w').write(memorisable_chat_jsonl())")
    run_store_job(target, api, "e2e-dataset", script, timeout=timeout)
    return f"file://{path}"


@contextlib.contextmanager
def project_namespace(target: ClusterTarget, api: client.ApiClient, prefix: str) -> Iterator[str]:
    """A new project namespace (`<prefix>-<6 hex>`), made with kubectl as a cluster admin would; it and its
    artifact claim go afterwards, whatever the test's outcome."""
    core = client.CoreV1Api(api)
    project = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=project, labels={"kubetune.io/project": project})))
    try:
        yield project
    finally:
        core.delete_namespace(project, propagation_policy="Background")
        release_artifact_claim(target, api, project)


@contextlib.contextmanager
def project_with_dataset(target: ClusterTarget, api: client.ApiClient, prefix: str) -> Iterator[tuple[str, str]]:
    """A new project namespace and the uri of the chat dataset written into it."""
    with project_namespace(target, api, prefix) as project:
        yield project, write_project_dataset(target, api, project)


def create_training(api: client.ApiClient, project: str, name: str, spec: Obj) -> None:
    """kubectl apply of a Training in a project, as a user writes it."""
    client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, project, "trainings", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Training",
        "metadata": {"name": name, "labels": {"kubetune.io/project": project}},
        "spec": spec,
    })


def wait_training(api: client.ApiClient, namespace: str, name: str, predicate: Callable[[Obj], bool],
                  timeout: int = 600) -> Obj:
    """The Training once predicate holds; AssertionError if it fails first."""
    custom = client.CustomObjectsApi(api)
    listed = json.loads(custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "trainings", field_selector=f"metadata.name={name}", _preload_content=False).data)
    for item in listed["items"]:
        if predicate(item):
            return dict(item)
    for event in watch.Watch().stream(custom.list_namespaced_custom_object, GROUP, VERSION, namespace, "trainings",
                                      field_selector=f"metadata.name={name}",
                                      resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=timeout):
        obj: Obj = event["raw_object"]
        status = obj.get("status") or {}
        if predicate(obj):
            return obj
        if status.get("phase") == "Failed":
            raise AssertionError(f"Training {namespace}/{name} failed: {status.get('message')}")
    raise TimeoutError(f"Training {namespace}/{name}: condition not met in {timeout}s")

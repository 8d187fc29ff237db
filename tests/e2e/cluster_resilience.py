"""Helpers for the resilience test on a real cluster: data written into a project's prefix of the
store by a Job on the runtime image, and waits on a Training's status (list, then watch)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cluster_target import ClusterTarget, run_store_job
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

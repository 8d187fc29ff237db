"""Waiting on the API server: a list, then a watch from its resourceVersion; never sleeps.

Shared by every integration test folder (pytest puts this folder on sys.path for its conftest).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch

WAIT_SECONDS = 120
Obj = dict[str, Any]


def wait_for(
    list_call: Callable[..., Any],
    predicate: Callable[[Obj], bool],
    *args: Any,
    timeout: int = WAIT_SECONDS,
    **kwargs: Any,
) -> Obj:
    """The first object (as a dict) that satisfies predicate; TimeoutError when the server ends the watch first."""
    listed = json.loads(list_call(*args, _preload_content=False, **kwargs).data)
    for item in listed.get("items") or []:
        if predicate(item):
            return dict(item)
    stream = watch.Watch().stream(
        list_call, *args, resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=timeout, **kwargs
    )
    last: Obj | None = None
    for event in stream:
        obj = event["raw_object"]
        last = obj
        if event["type"] != "DELETED" and predicate(obj):
            return dict(obj)
    raise TimeoutError(f"nothing matched within {timeout}s; last seen: {json.dumps(last)[:3000] if last else None}")


def wait_gone(list_call: Callable[..., Any], name: str, *args: Any, timeout: int = WAIT_SECONDS) -> None:
    """Return once the named object no longer exists."""
    selector = f"metadata.name={name}"
    listed = json.loads(list_call(*args, field_selector=selector, _preload_content=False).data)
    if not listed.get("items"):
        return
    stream = watch.Watch().stream(
        list_call,
        *args,
        field_selector=selector,
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=timeout,
    )
    for event in stream:
        if event["type"] == "DELETED":
            return
    raise TimeoutError(f"{name} still exists after {timeout}s")


def create_namespace(api: client.ApiClient, prefix: str) -> str:
    """A fresh namespace whose default ServiceAccount exists (pods need it); returns its name."""
    core = client.CoreV1Api(api)
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_service_account, name, timeout_seconds=60):
        if event["object"].metadata.name == "default":
            w.stop()
            return name
    raise TimeoutError(f"no default ServiceAccount in {name}")

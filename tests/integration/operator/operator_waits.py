"""Waiting on the API for the operator's tests: a list, then a watch from its resourceVersion; never sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch

WAIT_SECONDS = 120
Obj = dict[str, Any]
GROUP, VERSION = "kubetune.io", "v1alpha1"


def wait_for(
    list_call: Callable[..., Any],
    predicate: Callable[[Obj], bool],
    *args: Any,
    timeout: int = WAIT_SECONDS,
    **kwargs: Any,
) -> Obj:
    """The first object that satisfies predicate; TimeoutError when the server ends the watch first."""
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


class Resources:
    """kubetune objects through the custom-objects API."""

    def __init__(self, api: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api)

    def create(self, plural: str, namespace: str | None, body: Obj) -> Obj:
        if namespace is None:
            return dict(self.custom.create_cluster_custom_object(GROUP, VERSION, plural, body))
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body))

    def get(self, plural: str, namespace: str, name: str) -> Obj:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name))

    def patch(self, plural: str, namespace: str, name: str, body: Obj) -> Obj:
        return dict(self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, body))

    def delete(self, plural: str, namespace: str, name: str, **kwargs: Any) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, **kwargs)

    def wait(
        self, plural: str, namespace: str, name: str, predicate: Callable[[Obj], bool], timeout: int = WAIT_SECONDS
    ) -> Obj:
        return wait_for(
            self.custom.list_namespaced_custom_object,
            predicate,
            GROUP,
            VERSION,
            namespace,
            plural,
            field_selector=f"metadata.name={name}",
            timeout=timeout,
        )

    def wait_phase(self, plural: str, namespace: str, name: str, *phases: str, timeout: int = WAIT_SECONDS) -> Obj:
        return self.wait(
            plural, namespace, name, lambda o: (o.get("status") or {}).get("phase") in phases, timeout=timeout
        )


def condition(obj: Obj, type_: str) -> Obj:
    """The condition of that type, or {} when there is none."""
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def wait_event(core: client.CoreV1Api, namespace: str, name: str, reason: str, type_: str | None = None) -> Obj:
    """The first Event about `name` with that reason (Events are posted just after the status patch)."""
    return wait_for(
        core.list_namespaced_event,
        lambda e: e.get("reason") == reason and (type_ is None or e.get("type") == type_),
        namespace,
        field_selector=f"involvedObject.name={name}",
    )

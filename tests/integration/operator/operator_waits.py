"""Waiting on the API for the operator's tests: a list, then a watch from its resourceVersion; never sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kube_waits import WAIT_SECONDS
from kube_waits import Obj as Obj
from kube_waits import wait_for as wait_for
from kube_waits import wait_gone as wait_gone
from kubernetes import client

from kubetune.crd import GROUP, VERSION


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

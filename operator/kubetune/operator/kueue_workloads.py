"""Kueue's Workloads of queued Training Jobs, read and patched through the API (no watch: the
operator needs them only while a Training waits in a queue, or is stopped or started)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.operator.builders import kueue
from kubetune.operator.kube import MERGE_PATCH, ApiError
from kubetune.operator.runtime import Runtime


def _path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/{kueue.WORKLOAD_API}/namespaces/{namespace}/workloads"
    return f"{base}/{name}" if name else base


def workloads_in(rt: Runtime, namespace: str) -> list[dict[str, Any]]:
    """The namespace's Workloads as views (one LIST: the queue positions need all of them)."""
    try:
        items = rt.kube.request("GET", _path(namespace))["items"]
    except ApiError as exc:
        if exc.status == 404:  # Kueue's CRDs are not installed
            return []
        raise
    return [kueue.workload_view(w) for w in items]


def patch_workload(rt: Runtime, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
    rt.kube.request("PATCH", _path(namespace, name), dict(patch), content_type=MERGE_PATCH)


def workload_of(job: Mapping[str, Any], workloads: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((w for w in workloads if w["jobUid"] and w["jobUid"] == job.get("uid")), None)


def stop_queued_job(rt: Runtime, namespace: str, job: Mapping[str, Any]) -> None:
    """Free a queued Job's quota and pods (a failure that no retry fixes): deactivate its Workload."""
    mine = workload_of(job, workloads_in(rt, namespace))
    patch = kueue.activation_patch(mine, stop=True)
    if mine is not None and patch is not None:
        patch_workload(rt, namespace, mine["name"], patch)

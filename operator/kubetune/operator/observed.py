"""Compact views of Jobs, Pods and Deployments: what phase decisions need, nothing more.

The operator keeps these in kopf indexes, so they are small on purpose: a
whole Pod body per Training would cost megabytes with thousands of Trainings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.crd.labels import ATTEMPTS_BEFORE
from kubetune.operator.builders.podspec import GPU_PRODUCT_LABEL

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _conditions(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {k: c.get(k) for k in ("type", "status", "reason", "message") if c.get(k) is not None}
        for c in status.get("conditions") or ()
    ]


def _state(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """A container state reduced to one of waiting / running / terminated."""
    if not state:
        return {}
    if "terminated" in state and state["terminated"] is not None:
        t = state["terminated"]
        return {
            "terminated": {
                "reason": t.get("reason") or "",
                "exitCode": t.get("exitCode"),
                "message": (t.get("message") or "")[-2048:],
                "finishedAt": t.get("finishedAt") or "",  # which node of a group failed first
            }
        }
    if "waiting" in state and state["waiting"] is not None:
        w = state["waiting"]
        return {"waiting": {"reason": w.get("reason") or "", "message": (w.get("message") or "")[-1024:]}}
    if "running" in state and state["running"] is not None:
        return {"running": True}
    return {}


def pod_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Pod as phase decisions see it."""
    meta, status = body.get("metadata", {}), body.get("status") or {}
    containers = status.get("containerStatuses") or []
    first = containers[0] if containers else {}
    return {
        "name": meta.get("name"),
        "created": meta.get("creationTimestamp") or "",
        "deleting": bool(meta.get("deletionTimestamp")),
        "phase": status.get("phase") or "Pending",
        "reason": status.get("reason") or "",
        "message": (status.get("message") or "")[-1024:],
        "node": (body.get("spec") or {}).get("nodeName"),
        # The GPU product the pod asked for: a selector no node matches means "no such GPUs", not a typo.
        "gpuProduct": ((body.get("spec") or {}).get("nodeSelector") or {}).get(GPU_PRODUCT_LABEL),
        # An Indexed Job's pod: its node rank in a group, and which Job (uid) made it.
        "index": _int_or_none((meta.get("annotations") or {}).get(COMPLETION_INDEX)),
        "jobUid": (meta.get("labels") or {}).get(CONTROLLER_UID),
        "conditions": _conditions(status),
        "ready": bool(first.get("ready")),
        "restarts": int(first.get("restartCount") or 0),
        "state": _state(first.get("state")),
        "lastState": _state(first.get("lastState")),
    }


def job_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Job as phase decisions see it."""
    meta, spec, status = body.get("metadata", {}), body.get("spec") or {}, body.get("status") or {}
    return {
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "suspend": bool(spec.get("suspend")),
        "deleting": bool(meta.get("deletionTimestamp")),
        "indexed": spec.get("completionMode") == "Indexed",
        "completions": int(spec.get("completions") or 1),
        "attemptsBefore": _int_or_none((meta.get("annotations") or {}).get(ATTEMPTS_BEFORE)) or 0,
        "backoffLimit": spec.get("backoffLimit"),
        "activeDeadlineSeconds": spec.get("activeDeadlineSeconds"),
        "active": int(status.get("active") or 0),
        "succeeded": int(status.get("succeeded") or 0),
        "failed": int(status.get("failed") or 0),
        "startTime": status.get("startTime"),
        "completionTime": status.get("completionTime"),
        "conditions": _conditions(status),
    }


def deployment_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Deployment as serving phase decisions see it."""
    meta, spec, status = body.get("metadata", {}), body.get("spec") or {}, body.get("status") or {}
    return {
        "name": meta.get("name"),
        "generation": meta.get("generation"),
        "annotations": dict(meta.get("annotations") or {}),
        "replicas": int(spec["replicas"]) if spec.get("replicas") is not None else 1,
        "observedGeneration": status.get("observedGeneration"),
        "readyReplicas": int(status.get("readyReplicas") or 0),
        "updatedReplicas": int(status.get("updatedReplicas") or 0),
        "availableReplicas": int(status.get("availableReplicas") or 0),
        "conditions": _conditions(status),
    }

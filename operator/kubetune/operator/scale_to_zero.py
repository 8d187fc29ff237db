"""Scale to zero and back, decided from Kubernetes state only. Pure functions.

Idleness clock: the InferenceService's ``kubetune.io/last-request`` annotation, which the facade
refreshes (throttled) on every request it passes to the service, and which it sets to wake a
service at zero; before any request, the service's creation time. A service whose clock is older
than ``idleSeconds`` goes to 0 replicas; the next write of the annotation brings it back to
``minReplicas``. Requests that bypass the facade (in-cluster clients calling the Service directly)
do not move the clock: see docs/inference.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION
from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.operator.conditions import find


def activity_of(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What an InferenceService view keeps for the idleness clock: its last-request annotation, creation."""
    annotations = meta.get("annotations") or {}
    last = annotations.get(LAST_REQUEST_ANNOTATION)
    return {"annotations": {LAST_REQUEST_ANNOTATION: last} if last else {},
            "created": meta.get("creationTimestamp")}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def last_activity(annotations: Mapping[str, str], created: Any) -> datetime | None:
    """The later of the last request and the creation time (an unparsable annotation counts as none)."""
    moments = [m for m in (parse_time(annotations.get(LAST_REQUEST_ANNOTATION)), parse_time(created)) if m]
    return max(moments) if moments else None


def ready_since(status: Mapping[str, Any]) -> str | None:
    """When the Ready condition last turned True; None while the service is not Ready."""
    # Status conditions may be kopf's packed form (conditions.unpack), not a list of dicts.
    cond = find(status.get("conditions"), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    moment: str | None = cond.get("lastTransitionTime")
    return moment


def is_idle(spec: InferenceServiceSpec, annotations: Mapping[str, str], created: Any, now: datetime,
            ready: str | None = None, asleep: bool = False) -> bool:
    """Whether the service should be at zero.

    Awake, it sleeps only once Ready and unused for idleSeconds since the later of its last request and
    the moment it became Ready (a model still loading, or just woken, is never idle). Asleep, it stays
    so until a request newer than idleSeconds arrives (the facade's wake-up call).
    """
    scaling = spec.autoscaling
    if scaling is None or not scaling.scale_to_zero:
        return False
    since = last_activity(annotations, created)
    if not asleep:
        became_ready = parse_time(ready)
        if became_ready is None:
            return False
        since = max(since, became_ready) if since else became_ready
    return since is not None and (now - since).total_seconds() >= scaling.idle_seconds


def seconds_until_idle(spec: InferenceServiceSpec, annotations: Mapping[str, str], created: Any,
                       now: datetime) -> float | None:
    """How long until the service goes idle without another request (None: never, or already)."""
    scaling = spec.autoscaling
    since = last_activity(annotations, created)
    if scaling is None or not scaling.scale_to_zero or since is None:
        return None
    left = scaling.idle_seconds - (now - since).total_seconds()
    return left if left > 0 else None


def desired_replicas(spec: InferenceServiceSpec, current: int | None, idle: bool) -> int:
    """What the Deployment should run: 0 suspended or idle; else the bounds clamp the autoscaler's count."""
    if spec.suspend:
        return 0
    scaling = spec.autoscaling
    if scaling is None:
        return spec.replicas
    if idle:
        return 0
    if not current:  # creating, or waking from zero
        return scaling.min_replicas
    return min(max(current, scaling.min_replicas), scaling.max_replicas)


def replicas_to_write(spec: InferenceServiceSpec, current: int | None, desired: int) -> int | None:
    """The replicas the operator writes into the Deployment; None leaves them to the autoscaler.

    Without autoscaling the operator owns replicas. With it, only creation and the moves to and
    from zero are the operator's; between them the HPA (or KEDA) changes replicas, and writing a
    count read a moment earlier could undo its last decision.
    """
    if spec.autoscaling is None or spec.suspend or current is None:
        return desired
    if (desired == 0) != (current == 0):
        return desired
    return None


def now_utc() -> datetime:
    return datetime.now(UTC)

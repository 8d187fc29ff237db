"""Kubernetes Events for every transition, so `kubectl describe` and the facade tell the story."""

from __future__ import annotations

import logging
import socket
from concurrent.futures import Executor
from typing import Any

from kubetune.crd import labels as lbl
from kubetune.operator.conditions import now_iso
from kubetune.operator.kube import ApiError, Kube
from kubetune.operator.owner import Owner

log = logging.getLogger(__name__)
INSTANCE = socket.gethostname()


def build_event(owner: Owner, reason: str, message: str, warning: bool = False) -> dict[str, Any]:
    """A core/v1 Event about the owner (cluster-scoped objects get theirs in `default`)."""
    now = now_iso()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{owner.name}.", "namespace": owner.namespace or "default"},
        "involvedObject": owner.object_ref(),
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": lbl.MANAGER},
        "reportingComponent": lbl.MANAGER,
        "reportingInstance": INSTANCE,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def emit(kube: Kube, owner: Owner, reason: str, message: str, warning: bool = False,
         background: Executor | None = None) -> None:
    """Post an Event; a failure to post is logged, never fatal to the reconciliation.

    With `background`, the Event (stamped now) is posted from that pool: the handler does not wait
    for a write nothing depends on.
    """
    event = build_event(owner, reason, message, warning)
    if background is None:
        _post(kube, event)
    else:
        background.submit(_post, kube, event)


def _post(kube: Kube, event: dict[str, Any]) -> None:
    try:
        kube.create(event)
    except ApiError as exc:
        involved = event["involvedObject"]
        log.warning("could not post event %s for %s/%s: %s", event["reason"], involved.get("namespace"),
                    involved.get("name"), exc)

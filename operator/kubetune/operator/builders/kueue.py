"""Kueue: a Training that names a queue hands the start of its Job to Kueue. Pure functions.

The contract (Kueue's job framework for batch/v1 Jobs): a Job labelled
kueue.x-k8s.io/queue-name and created suspended gets a Workload; Kueue unsuspends the Job when the
Workload is admitted (its whole pod set fits the ClusterQueue's quota: all pods of a multi-node
Training at once) and suspends it again when it is evicted. So once a Job is in a queue the
operator never writes Job.spec.suspend: a user's stop deactivates the Workload
(spec.active: false, Kueue suspends the Job and frees the quota) and a resume activates it again.
A Job created while the Training is stopped carries no queue label yet, so Kueue leaves it alone
until the user starts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubetune.operator.phases import TrainingState

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"  # Kueue's label on the Workload of a Job
WORKLOAD_API = "kueue.x-k8s.io/v1beta2"
WAITING_REASON = "WaitingInQueue"
# Evictions after which Kueue queues a Workload by the eviction's time instead of its creation
# (its default requeuingStrategy.timestamp: Eviction): the group is put at the back again.
REQUEUED_BY_EVICTION = frozenset({"PodsReadyTimeout", "AdmissionCheck"})


def queue_of(spec_queue: str | None, labels: Mapping[str, str] | None) -> str | None:
    """The LocalQueue a Training names: spec.queue, else its kueue.x-k8s.io/queue-name label."""
    return spec_queue or (labels or {}).get(QUEUE_LABEL) or None


def with_queue(job: dict[str, Any], queue: str | None, stopped: bool) -> dict[str, Any]:
    """The Job manifest handed to Kueue: created suspended, labelled unless the Training is stopped."""
    if queue is None:
        return job
    labels = dict(job["metadata"].get("labels") or {})
    if not stopped:
        labels[QUEUE_LABEL] = queue
    return {**job, "metadata": {**job["metadata"], "labels": labels},
            "spec": {**job["spec"], "suspend": True}}


def job_queue(job_labels: Mapping[str, str] | None) -> str | None:
    return (job_labels or {}).get(QUEUE_LABEL) or None


def workload_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Workload as queue decisions see it."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    conds = {c.get("type"): c for c in status.get("conditions") or ()}

    def true(kind: str) -> bool:
        return (conds.get(kind) or {}).get("status") == "True"

    reserved = conds.get("QuotaReserved") or {}
    evicted = conds.get("Evicted") or {}
    requeued = true("Evicted") and evicted.get("reason") in REQUEUED_BY_EVICTION
    return {
        "name": meta.get("name"),
        "jobUid": (meta.get("labels") or {}).get(JOB_UID_LABEL),
        # Where Kueue's FIFO puts it: its creation, or the eviction that sent it back to the queue.
        "created": (evicted.get("lastTransitionTime") if requeued else None) or meta.get("creationTimestamp") or "",
        "queue": spec.get("queueName"),
        "priority": int(spec.get("priority") or 0),
        "active": spec.get("active", True) is not False,
        "quotaReserved": true("QuotaReserved"),
        "admitted": true("Admitted"),
        "finished": true("Finished"),
        # Kueue's reason for not reserving quota yet, e.g. "insufficient unused quota for cpu in flavor ...".
        "pendingMessage": reserved.get("message") if reserved.get("status") == "False" else None,
        "evicted": (evicted.get("message") or evicted.get("reason")) if true("Evicted") else None,
    }


def pending(view: Mapping[str, Any]) -> bool:
    return bool(view["active"]) and not view["quotaReserved"] and not view["finished"]


def queue_position(mine: Mapping[str, Any], workloads: Iterable[Mapping[str, Any]]) -> int | None:
    """1-based place of `mine` among the pending Workloads of its LocalQueue, in Kueue's FIFO order
    (higher priority first, then older first); None once it holds quota or is inactive."""
    if not pending(mine):
        return None
    ahead = sorted((w for w in workloads if w["queue"] == mine["queue"] and pending(w)),
                   key=lambda w: (-w["priority"], w["created"], w["name"]))
    for index, view in enumerate(ahead, start=1):
        if view["name"] == mine["name"]:
            return index
    return None


def waiting_message(queue: str, mine: Mapping[str, Any] | None, workloads: Iterable[Mapping[str, Any]]) -> str:
    """What a Queued Training says while Kueue holds its Job."""
    if mine is None:
        return f"waiting in queue {queue}: Kueue has not created its Workload yet"
    if not mine["active"]:
        return f"waiting in queue {queue}: its Workload {mine['name']} is deactivated"
    position = queue_position(mine, workloads)
    if position is None:
        return f"waiting in queue {queue}: admitted, the Job starts"
    text = f"waiting in queue {queue}, position {position}"
    if mine["evicted"]:
        text += f" (evicted: {mine['evicted']})"
    if mine["pendingMessage"]:
        text += f": {mine['pendingMessage']}"
    return text


def held_by_queue(job: Mapping[str, Any] | None, suspend_requested: bool) -> bool:
    """Kueue, not the user, holds this Job: it is in a queue and suspended while the user wants it running."""
    return job is not None and bool(job.get("queue")) and bool(job["suspend"]) and not suspend_requested \
        and not any(c.get("status") == "True" and c.get("type") in ("Complete", "Failed") for c in job["conditions"])


def queue_state(job: Mapping[str, Any] | None, suspend_requested: bool, state: TrainingState,
                message: str | None) -> TrainingState:
    """Queued with the place in the queue (`message`, noted by handlers/queue_status.py) while Kueue
    holds the Job; otherwise the state decided from the Job and its pods."""
    if job is None or not held_by_queue(job, suspend_requested):
        return state
    text = message or f"waiting in queue {job['queue']} for admission by Kueue"
    return TrainingState("Queued", WAITING_REASON, text, state.attempts)


def activation_patch(workload: Mapping[str, Any] | None, stop: bool) -> dict[str, Any] | None:
    """The merge patch that makes a Workload follow the user's stop/start, or None when it already does."""
    if workload is None or workload["finished"] or workload["active"] != stop:
        return None
    return {"spec": {"active": not stop}}

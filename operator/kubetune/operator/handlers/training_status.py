"""Child state flows up: a Training's Job and pods decide its phase, message and conditions."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from kubetune.crd.kinds import TRAINING
from kubetune.operator.builders import kueue
from kubetune.operator.conditions import now_iso
from kubetune.operator.handlers import gang as group
from kubetune.operator.handlers.common import many, one
from kubetune.operator.kueue_workloads import stop_queued_job
from kubetune.operator.owner import Owner
from kubetune.operator.phases import TrainingState, training_conditions, training_state
from kubetune.operator.runtime import Runtime

TERMINAL = frozenset({"Succeeded", "Failed"})
EVENT_REASONS = {
    "Pending": "Pending", "Queued": "Queued", "Running": "Started", "Stopping": "Stopping",
    "Stopped": "Stopped", "Succeeded": "Succeeded", "Failed": "Failed",
}


def owner_of(view: Mapping[str, Any]) -> Owner:
    return Owner(api_version=TRAINING.api_version, kind=TRAINING.kind, name=view["name"], uid=view["uid"],
                 namespace=view["namespace"], labels=view.get("labels") or {})


def state_fields(state: TrainingState, view: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """The status fields a state writes; startTime once, when the training first runs."""
    fields: dict[str, Any] = {
        "phase": state.phase,
        "message": state.message[:4096],
        "attempts": state.attempts,
        "conditions": training_conditions(state, view.get("generation"), base.get("conditions")),
    }
    if state.nodes is not None:  # a group of pods (several nodes)
        fields["nodes"] = state.nodes
        fields["nodeStates"] = [dict(s) for s in state.node_states]
    if state.phase == "Running" and not base.get("startTime"):
        fields["startTime"] = now_iso()
    if state.phase in TERMINAL:
        fields["completionTime"] = state.completion_time or base.get("completionTime") or now_iso()
    return fields


def write_state(rt: Runtime, view: Mapping[str, Any], state: TrainingState,
                extra: Mapping[str, Any] | None = None, into: MutableMapping[str, Any] | None = None) -> bool:
    """Patch the state into status (if it changed) and announce a phase change with an Event.

    `into`: kopf's patch, when called from the Training's own handler (see StatusWriter.write).
    """
    owner = owner_of(view)
    base = rt.status.base(owner.uid, view["status"], view.get("resourceVersion"))
    fields = {**state_fields(state, view, base), **(extra or {})}
    event = (EVENT_REASONS.get(state.phase, state.phase), state.message, state.phase == "Failed")
    return rt.status.write(TRAINING, owner, view["status"], view.get("resourceVersion"), fields, event, into)


def decide(rt: Runtime, namespace: str, name: str, training_views: Any, training_jobs: Any,
           training_pods: Any) -> tuple[dict[str, Any], dict[str, Any], TrainingState] | None:
    """(view, job, state) when the Job and pods say something about the Training, else None."""
    view = one(training_views, (namespace, name))
    if view is None or (view["spec"].get("hpo") or {}).get("enabled"):
        return None
    if rt.status.staged(view["uid"], view.get("resourceVersion")):
        return None  # the handler's status is on its way in kopf's patch; the Training's next event decides
    job = one(training_jobs, (namespace, name))
    if job is None or (job.get("ownerUid") and job["ownerUid"] != view["uid"]):
        return None  # no Job yet (the Training's own handler reports that), or one left from a namesake
    if group.waiting_for_previous(job):
        return None  # a group restarting: status says so until the next Job exists
    base = rt.status.base(view["uid"], view["status"], view.get("resourceVersion"))
    if base.get("phase") in TERMINAL and base.get("jobName") == job["name"] and not _job_is_newer(job, base):
        return None  # terminal phases stick, even when the Job's TTL removes it later
    pods = many(training_pods, (namespace, name))
    suspend = bool(view["spec"].get("suspend"))
    state = training_state(job, pods, suspend_requested=suspend, quota_refusal=_quota_refusal(rt, namespace, job, pods))
    # Kueue, not the user, holds a queued Job that is suspended: Queued, with its place in the queue.
    place = rt.queue_waits.get((namespace, job["name"]))
    state = kueue.queue_state(job, suspend, state, place)
    if place is not None and state.reason != kueue.WAITING_REASON:
        rt.queue_waits.pop((namespace, job["name"]), None)  # admitted, stopped or ended: no place to keep
    return view, job, group.restart_state(rt, view, job, state) or state


def _quota_refusal(rt: Runtime, namespace: str, job: Mapping[str, Any], pods: list[Any]) -> str | None:
    """The quota's refusal of this Job's pod, until the Job has a pod (then it is forgotten)."""
    key = (namespace, job["name"])
    refusal = rt.quota_refusals.get(key)
    if refusal is None:
        return None
    if pods or (refusal[0] and refusal[0] != job.get("uid")):
        rt.quota_refusals.pop(key, None)
        return None
    return refusal[1]


def refresh_wanted(rt: Runtime, namespace: str, name: str, training_views: Any, training_jobs: Any,
                   training_pods: Any) -> bool:
    """Whether refresh_training would patch anything: most Job and Pod events change nothing."""
    decided = decide(rt, namespace, name, training_views, training_jobs, training_pods)
    if decided is None:
        return False
    view, job, state = decided
    if state.reason == group.RESTARTING:
        return True  # the failed group's Job is deleted even when status said so already
    base = rt.status.base(view["uid"], view["status"], view.get("resourceVersion"))
    fields = {**state_fields(state, view, base), "jobName": job["name"]}
    return rt.status.needed(view["uid"], view["status"], view.get("resourceVersion"), fields)


def refresh_training(rt: Runtime, namespace: str, name: str, training_views: Any, training_jobs: Any,
                     training_pods: Any) -> None:
    """Recompute a Training's phase from its Job and pods; called on Job or Pod events."""
    with rt.locks.hold((namespace, name)):
        decided = decide(rt, namespace, name, training_views, training_jobs, training_pods)
        if decided is not None:
            view, job, state = decided
            written = write_state(rt, view, state, {"jobName": job["name"]})
            if state.reason == group.RESTARTING:  # announced once, with the status that says it
                group.delete_group(rt, owner_of(view), job, state.message if written else None)
                return
            if state.phase == "Failed" and not job["suspend"] and not _job_finished(job):
                # e.g. an image that cannot be pulled: the Job would keep a pod (and its GPUs) waiting
                # forever. Suspended, it frees them and stays for inspection.
                if job.get("queue"):  # Kueue would unsuspend it: its deactivated Workload frees the quota too
                    stop_queued_job(rt, namespace, job)
                else:
                    rt.kube.patch("batch/v1", "Job", namespace, job["name"], {"spec": {"suspend": True}})


FINISHING = frozenset({"Complete", "Failed", "FailureTarget", "SuccessCriteriaMet"})


def _job_finished(job: Mapping[str, Any]) -> bool:
    return any(c.get("type") in FINISHING and c.get("status") == "True" for c in job["conditions"])


def _job_is_newer(job: Mapping[str, Any], base: Mapping[str, Any]) -> bool:
    """A terminal Training whose Job is active again (a resume after a stop that had failed)."""
    return bool(job["active"]) and not job["conditions"]

"""Job + pods -> a Training's phase, reason and message. Pure: views in, a decision out.

The message is what a user reads in `kubectl get`/`describe` and the REST API,
so it names the cause: why a pod waits (unschedulable, GPUs, image pull) or
why it failed (image pull, OOMKilled, exit code + termination message,
deadline, backoff limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kubetune.operator import conditions as cnd
from kubetune.operator import gang
from kubetune.operator.failures import pod_failure

IMAGE_FAILURES = frozenset({"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
IMAGE_RETRYING = frozenset({"ErrImagePull"})
STARTING = frozenset({"ContainerCreating", "PodInitializing"})
GPU_HINTS = ("nvidia.com/gpu", "gpu")


@dataclass(frozen=True)
class TrainingState:
    """What the operator writes into the operator-owned part of status."""

    phase: str
    reason: str
    message: str
    attempts: int = 0
    completion_time: str | None = None
    nodes: str | None = None  # a group of pods: "2/2 Running" (gang.summary)
    node_states: tuple[Mapping[str, Any], ...] = ()


def _live(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in pods if p["phase"] not in ("Succeeded", "Failed")]


def _newest(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return max(pods, key=lambda p: (p["created"], p["name"]), default=None)


def _last_failure(pods: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """The failure of the newest failed attempt."""
    newest = _newest([p for p in pods if pod_failure(p)])
    return pod_failure(newest) if newest is not None else None


def waiting_state(pod: Mapping[str, Any]) -> TrainingState | None:
    """Why a live pod is not running yet, as Queued (or Failed for an image that cannot be pulled)."""
    for cond in pod["conditions"]:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            message = cond.get("message") or "no node fits the pod"
            if any(h in message for h in GPU_HINTS):
                return TrainingState("Queued", "WaitingForGPUs", f"waiting for GPUs: {message}")
            if pod.get("gpuProduct") and "affinity/selector" in message:
                return TrainingState("Queued", "WaitingForGPUs",
                                     f"waiting for GPUs: no node offers {pod['gpuProduct']}: {message}")
            reason = cond.get("reason") or "Unschedulable"
            return TrainingState("Queued", reason, f"unschedulable: {message}")
    waiting = pod["state"].get("waiting")
    if waiting:
        reason, detail = waiting.get("reason") or "", waiting.get("message") or ""
        if reason in IMAGE_FAILURES:
            return TrainingState(
                "Failed", "ImagePullError", f"cannot pull the trainer image ({reason}): {detail}"
            )
        if reason in IMAGE_RETRYING:
            return TrainingState("Queued", "PullingImage", f"pulling the image failed, retrying: {detail}")
        if reason in STARTING:
            return TrainingState("Queued", "PullingImage", "pulling the image and starting the container")
        return TrainingState("Queued", reason or "Starting", f"container waiting: {reason} {detail}".strip())
    if not pod.get("node"):
        return TrainingState("Queued", "Scheduling", "waiting for the scheduler")
    if not pod["state"]:
        return TrainingState(
            "Queued", "PullingImage", "scheduled; pulling the image and starting the container"
        )
    return None


def _job_failed(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], attempts: int) -> TrainingState:
    cond: Mapping[str, Any] = next(
        (
            c
            for c in job["conditions"]
            if c.get("type") in ("Failed", "FailureTarget") and c.get("status") == "True"
        ),
        {},
    )
    job_reason = cond.get("reason") or "JobFailed"
    last = gang.first_failure(job, pods) if gang.is_group(job) else _last_failure(pods)
    if job_reason == "DeadlineExceeded":
        limit = job.get("activeDeadlineSeconds")
        text = f"deadline exceeded: the training ran longer than activeDeadlineSeconds ({limit}s)"
        return TrainingState("Failed", "DeadlineExceeded", text, attempts, job.get("completionTime"))
    if job_reason == "BackoffLimitExceeded":
        limit = job.get("backoffLimit")
        head = f"backoff limit exceeded after {attempts} attempt(s) (backoffLimit {limit})"
        if last:
            return TrainingState(
                "Failed", last[0], f"{head}; last attempt {last[1]}", attempts, job.get("completionTime")
            )
        return TrainingState("Failed", "BackoffLimitExceeded", head, attempts, job.get("completionTime"))
    if last:
        return TrainingState("Failed", last[0], f"attempt {last[1]}", attempts, job.get("completionTime"))
    return TrainingState(
        "Failed", job_reason, cond.get("message") or "the Job failed", attempts, job.get("completionTime")
    )


def training_state(
    job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]], suspend_requested: bool = False,
    quota_refusal: str | None = None,
) -> TrainingState:
    """The phase a Training is in, from its Job and that Job's pods.

    quota_refusal: the Job's last FailedCreate "exceeded quota" message (handlers/project_quota.py),
    while it has no pod: the Training waits for its project's quota, Queued, not Failed.
    A group of pods (several nodes) adds each node's state; its attempts count groups, not pods.
    """
    if job is None or not gang.is_group(job):
        return _state(job, pods, suspend_requested, quota_refusal)
    pods = gang.current(job, pods)
    states = gang.node_states(job, pods)
    state = _state(job, pods, suspend_requested, quota_refusal)
    failure = gang.first_failure(job, pods)
    if failure and state.phase in ("Running", "Queued") and not job["suspend"]:
        # Between a node's failure and the Job's Failed condition (the other nodes are being ended):
        # the group is not training any more, whatever its surviving pods do.
        state = TrainingState("Queued", "NodeFailed", f"{failure[1]}; the group stops", state.attempts)
    elif state.phase in ("Running", "Queued", "Failed") and not job["suspend"] and not any(
            cnd.is_true(job["conditions"], c) for c in ("Failed", "FailureTarget", "Complete")):
        # (Failed here is a pod's image that cannot be pulled, not the Job's failure.)
        waiting = _group_waiting(pods)
        state = replace(waiting, attempts=state.attempts) if waiting else state
    return replace(state, nodes=gang.summary(states), node_states=tuple(states))


def _group_waiting(pods: Sequence[Mapping[str, Any]]) -> TrainingState | None:
    """The first node not running yet, why, and by which node: a group trains only with all of them."""
    for pod in sorted(_live(pods), key=lambda p: (p.get("index") or 0, p["name"])):
        if pod["deleting"] or pod["state"].get("running"):
            continue
        waiting = waiting_state(pod) or TrainingState("Queued", "Starting", "starting the pod")
        return TrainingState(waiting.phase, waiting.reason, f"node {pod.get('index')}: {waiting.message}")
    return None


def attempts_of(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> int:
    """Attempts so far: those of the Jobs before this one, plus this Job's pods (or 1 for a group)."""
    started = len([p for p in pods if p["phase"] in ("Succeeded", "Failed") or p["state"]])
    this_job: int = max(job["failed"] + job["succeeded"] + job["active"], started)
    if gang.is_group(job):
        this_job = min(this_job, 1)
    return int(job.get("attemptsBefore") or 0) + int(this_job)


def _state(
    job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]], suspend_requested: bool,
    quota_refusal: str | None,
) -> TrainingState:
    if job is None:
        return TrainingState("Pending", "JobNotCreated", "waiting for the Job to be created")
    attempts = attempts_of(job, pods)
    conds = job["conditions"]
    if cnd.is_true(conds, "Complete") or cnd.is_true(conds, "SuccessCriteriaMet"):
        return TrainingState(
            "Succeeded", "Completed", "training finished", attempts, job.get("completionTime")
        )
    if cnd.is_true(conds, "Failed") or cnd.is_true(conds, "FailureTarget"):
        return _job_failed(job, pods, attempts)
    live = _live(pods)
    if job["suspend"] or suspend_requested:
        if live or (job["suspend"] and job["active"]) or not job["suspend"]:
            return TrainingState(
                "Stopping",
                "Suspending",
                f"stopping: waiting for {max(len(live), 1)} pod(s) to end; checkpoints are kept",
                attempts,
            )
        return TrainingState(
            "Stopped", "Suspended", "stopped; checkpoints are kept; set suspend: false to resume", attempts
        )
    previous = [p for p in pods if p not in live]
    failure = _last_failure(previous)
    note = f"; previous attempt {failure[1]}" if failure else ""
    current = _newest([p for p in live if not p["deleting"]])
    if current is None and any(p["phase"] == "Succeeded" for p in pods):
        # The trainer exited 0 and the Job controller has not marked the Job complete yet:
        # still Running, never back to Queued.
        return TrainingState("Running", "Finishing", "the trainer finished; waiting for the Job to complete",
                             attempts)
    if current is None:
        if quota_refusal:
            return TrainingState("Queued", "QuotaExceeded",
                                 f"waiting for room in the project's quota: {quota_refusal[:2048]}{note}", attempts)
        if failure and not job["active"]:
            return TrainingState("Queued", "Retrying", f"waiting for the next attempt{note}", attempts)
        return TrainingState(
            "Queued", "PodNotCreated", f"waiting for the Job to create a pod{note}", attempts
        )
    if current["state"].get("running"):
        return TrainingState("Running", "Running", f"attempt {max(attempts, 1)} running{note}", attempts)
    waiting = waiting_state(current)
    if waiting is None:
        return TrainingState("Queued", "Starting", f"starting the pod{note}", attempts)
    return TrainingState(waiting.phase, waiting.reason, waiting.message + note, attempts)


def training_conditions(state: TrainingState, generation: int | None,
                        existing: Iterable[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The condition of the current phase family, True with the reason and message; a family that was True
    before (it is in `existing`) goes False with the phase that ended it as reason (Running False,
    Succeeded). Families the Training never entered are not listed: no `Failed False` on a run that
    never failed, so `kubectl describe` shows what happened and nothing else."""
    families = {
        "Pending": state.phase == "Pending",  # carries why: TrainerNotFound, WaitingForDataset, ...
        "Running": state.phase == "Running",
        "Succeeded": state.phase == "Succeeded",
        "Failed": state.phase == "Failed",
        "Suspended": state.phase in ("Stopping", "Stopped"),
        "Queued": state.phase == "Queued",
    }
    seen = {c.get("type") for c in cnd.unpack(existing)}
    return [
        cnd.make(kind, on, state.reason if on else state.phase, state.message if on else "", generation)
        for kind, on in families.items() if on or kind in seen
    ]

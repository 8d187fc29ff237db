"""Group restarts of multi-node Trainings: a failed group's Job is deleted and made again.

A group's Job fails at its first failed pod (backoffLimit 0, builders/distributed.py) and the Job
controller ends the other pods, so no pod waits for a lost peer. Here the operator deletes that
Job (foreground: its pods go first) and, once it is gone, the Training's reconcile makes a new one
that resumes from the latest checkpoint; the new Job's `attempts-before` annotation carries the count.
A permanent failure (the podFailurePolicy's FailJob) or a spent backoffLimit stays Failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import kopf

from kubetune.operator import conditions as cnd
from kubetune.operator import gang
from kubetune.operator.events import emit
from kubetune.operator.owner import Owner
from kubetune.operator.phases import TrainingState
from kubetune.operator.runtime import Runtime

RESTARTING = "Restarting"


def backoff_limit(view: Mapping[str, Any], rt: Runtime) -> int:
    limit = view["spec"].get("backoffLimit")
    return int(limit) if limit is not None else rt.settings.default_backoff_limit


def restart_state(rt: Runtime, view: Mapping[str, Any], job: Mapping[str, Any],
                  state: TrainingState) -> TrainingState | None:
    """What status says while a failed group restarts, when its failure may pass on retry; else None."""
    limit = backoff_limit(view, rt)
    if state.phase != "Failed" or not gang.restart_due(job, state.attempts, limit):
        return None
    message = (f"{state.message}; restarting all {job.get('completions')} nodes from the latest checkpoint "
               f"(attempt {state.attempts + 1} of {limit + 1})")
    return replace(state, phase="Queued", reason=RESTARTING, message=message, completion_time=None)


def delete_group(rt: Runtime, owner: Owner, job: Mapping[str, Any], announce: str | None) -> None:
    """Foreground: the Job goes only after its pods, so the next group never meets the last one.

    `announce`: a Warning Event of its own (the phase, Queued, may not change, so write_state posts
    none); None when status said so already (this is a retry of the delete).
    """
    deleted = rt.kube.delete("batch/v1", "Job", owner.namespace, job["name"], propagation="Foreground",
                             uid=job.get("uid"))
    if deleted and announce:
        emit(rt.kube, owner, RESTARTING, announce, warning=True, background=rt.status.background)


def waiting_for_previous(job: Mapping[str, Any] | None) -> bool:
    """A group's Job still being deleted: the next one waits for its name (and its pods) to be free."""
    return job is not None and bool(job.get("deleting"))


def recreate_after_restart(rt: Runtime, view: Mapping[str, Any] | None, reconcile: Any) -> None:
    """The Job of a restarting Training is gone: make the next one (the Training's own reconcile)."""
    if view is None:
        return
    base = rt.status.base(view["uid"], view["status"], view.get("resourceVersion"))
    queued = cnd.find(base.get("conditions"), "Queued")
    if base.get("phase") != "Queued" or queued is None or queued.get("reason") != RESTARTING:
        return  # not a restart of ours (a Training being deleted takes its Job with it)
    # A refusal is in status already (the reconcile wrote it); the Training's own handler retries.
    with contextlib.suppress(kopf.TemporaryError, kopf.PermanentError):
        reconcile()

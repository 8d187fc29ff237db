# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""Trainings in a Kueue queue: stop/start through the Workload, and where they wait in the queue.

Kueue owns Job.spec.suspend of a queued Job (builders/kueue.py says why), so a user's stop or
resume becomes Workload.spec.active, and a Training that Kueue holds is Queued with its place:
`waiting in queue gpu-a, position 3: insufficient unused quota for cpu ...`. The place is computed
from the namespace's Workloads (Kueue's visibility API is an optional aggregated API server; the
Workloads are always there), refreshed by a timer while the Training is Queued; admission itself is
seen at once, as the Job event of Kueue unsuspending the Job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from kubetune.crd.kinds import TRAINING
from kubetune.operator.builders import kueue
from kubetune.operator.handlers.common import REGISTRY, guarded, one, resource, runtime_of
from kubetune.operator.handlers.training_status import refresh_training, refresh_wanted
from kubetune.operator.kueue_workloads import patch_workload, workload_of, workloads_in
from kubetune.operator.runtime import Runtime

REFRESH_SECONDS = 5.0
NOT_ENABLED = ("spec.queue (or the kueue.x-k8s.io/queue-name label) needs the operator's Kueue integration, "
               "which is off: set the chart value kueue.enabled=true on a cluster that runs Kueue")


def align(rt: Runtime, namespace: str, job: Mapping[str, Any], queue: str, stop: bool) -> None:
    """Make Kueue follow the user's stop/start of a queued Training, and note its place in the queue."""
    if job.get("queue") is None:
        # Not Kueue's (yet): created while stopped, or started before the Training named a queue.
        if stop and not job["suspend"]:
            rt.kube.patch("batch/v1", "Job", namespace, job["name"], {"spec": {"suspend": True}})
        elif not stop and job["suspend"]:  # started: into the queue, Kueue unsuspends it on admission
            rt.kube.patch("batch/v1", "Job", namespace, job["name"],
                          {"metadata": {"labels": {kueue.QUEUE_LABEL: queue}}})
        return
    workloads = workloads_in(rt, namespace)
    mine = workload_of(job, workloads)
    if mine is None:
        if stop:  # Kueue may still admit it: deactivate the Workload as soon as it exists
            raise kopf.TemporaryError("stopping: waiting for Kueue to create the Job's Workload", delay=2)
        return
    patch = kueue.activation_patch(mine, stop)
    if patch is not None:
        patch_workload(rt, namespace, mine["name"], patch)
        mine = {**mine, "active": not stop}
    note(rt, namespace, job, job["queue"], mine, workloads)


def note(rt: Runtime, namespace: str, job: Mapping[str, Any], queue: str, mine: Mapping[str, Any] | None,
         workloads: list[dict[str, Any]]) -> None:
    rt.queue_waits[(namespace, job["name"])] = kueue.waiting_message(queue, mine, workloads)


def _waiting_in_queue(memo: kopf.Memo, spec: kopf.Spec, labels: kopf.Labels, status: kopf.Status,
                      **_: Any) -> bool:
    # Narrow on purpose: kopf puts its finalizer on the objects a timer matches (to stop the timer
    # before they go), so only Trainings that wait in a Kueue queue carry it, and only while they wait.
    return (runtime_of(memo).settings.kueue_enabled and status.get("phase") == "Queued"
            and kueue.queue_of(spec.get("queue"), labels) is not None)


@kopf.timer(*resource(TRAINING), interval=REFRESH_SECONDS, when=_waiting_in_queue, registry=REGISTRY)
async def training_queue_position(namespace: str, name: str, memo: kopf.Memo, training_views: Any,
                                  training_jobs: Any, training_pods: Any, **_: Any) -> None:
    """While Queued in a Kueue queue: the place in the queue and Kueue's reason, in the message."""
    rt = runtime_of(memo)
    job = one(training_jobs, (namespace, name))
    if job is None or not job.get("queue"):
        return

    def refresh() -> None:
        workloads = workloads_in(rt, namespace)
        note(rt, namespace, job, job["queue"], workload_of(job, workloads), workloads)
        if refresh_wanted(rt, namespace, name, training_views, training_jobs, training_pods):
            refresh_training(rt, namespace, name, training_views, training_jobs, training_pods)

    await asyncio.to_thread(guarded, "TrainingQueue", rt, refresh)

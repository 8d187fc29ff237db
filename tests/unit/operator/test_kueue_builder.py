"""Kueue hand-off as pure functions: the queued Job manifest, Workload views, queue positions, states."""

from __future__ import annotations

from typing import Any

from kubetune.operator.builders import kueue
from kubetune.operator.phases import TrainingState


def _job_manifest() -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "t-train", "labels": {"kubetune.io/training": "t"}},
            "spec": {"suspend": False, "parallelism": 2}}


def _workload(name: str, created: str, queue: str = "gpu-a", priority: int = 0, reserved: bool = False,
              active: bool = True, job_uid: str = "", message: str | None = None) -> dict[str, Any]:
    conditions = [{"type": "QuotaReserved", "status": "True" if reserved else "False",
                   "message": message or ""}]
    if reserved:
        conditions.append({"type": "Admitted", "status": "True"})
    return {
        "metadata": {"name": name, "creationTimestamp": created,
                     "labels": {kueue.JOB_UID_LABEL: job_uid or f"uid-{name}"}},
        "spec": {"queueName": queue, "priority": priority, "active": active},
        "status": {"conditions": conditions},
    }


def _job_view(queue: str | None = "gpu-a", suspend: bool = True, conditions: list[Any] | None = None) -> dict[str, Any]:
    return {"name": "t-train", "uid": "uid-w1", "suspend": suspend, "active": 0, "queue": queue,
            "conditions": conditions or []}


def test_queue_comes_from_spec_then_label() -> None:
    assert kueue.queue_of("gpu-a", {kueue.QUEUE_LABEL: "other"}) == "gpu-a"
    assert kueue.queue_of(None, {kueue.QUEUE_LABEL: "other"}) == "other"
    assert kueue.queue_of(None, {}) is None


def test_a_queued_job_is_created_suspended_with_the_queue_label() -> None:
    job = kueue.with_queue(_job_manifest(), "gpu-a", stopped=False)
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"][kueue.QUEUE_LABEL] == "gpu-a"
    assert job["metadata"]["labels"]["kubetune.io/training"] == "t"
    assert job["spec"]["parallelism"] == 2  # the whole group is one pod set for Kueue


def test_a_stopped_training_gets_no_queue_label_until_started() -> None:
    job = kueue.with_queue(_job_manifest(), "gpu-a", stopped=True)
    assert job["spec"]["suspend"] is True
    assert kueue.QUEUE_LABEL not in job["metadata"]["labels"]


def test_no_queue_leaves_the_job_alone() -> None:
    manifest = _job_manifest()
    assert kueue.with_queue(manifest, None, stopped=False) is manifest


def test_positions_follow_priority_then_age_among_pending_workloads() -> None:
    views = [kueue.workload_view(w) for w in (
        _workload("w0", "2026-01-01T00:00:00Z", reserved=True),  # running: not in the queue any more
        _workload("w1", "2026-01-01T00:00:01Z"),
        _workload("w2", "2026-01-01T00:00:02Z", priority=10),  # jumps ahead
        _workload("w3", "2026-01-01T00:00:03Z"),
        _workload("w4", "2026-01-01T00:00:00Z", queue="other"),  # another queue
        _workload("w5", "2026-01-01T00:00:00Z", active=False),  # deactivated (stopped by its user)
    )]
    by_name = {v["name"]: v for v in views}
    assert kueue.queue_position(by_name["w2"], views) == 1
    assert kueue.queue_position(by_name["w1"], views) == 2
    assert kueue.queue_position(by_name["w3"], views) == 3
    assert kueue.queue_position(by_name["w4"], views) == 1
    assert kueue.queue_position(by_name["w0"], views) is None
    assert kueue.queue_position(by_name["w5"], views) is None


def test_a_group_evicted_for_not_starting_in_time_goes_to_the_back_of_the_queue() -> None:
    late = _workload("w1", "2026-01-01T00:00:01Z")
    late["status"]["conditions"].append({"type": "Evicted", "status": "True", "reason": "PodsReadyTimeout",
                                         "message": "Exceeded the PodsReady timeout",
                                         "lastTransitionTime": "2026-01-01T00:10:00Z"})
    views = [kueue.workload_view(w) for w in (late, _workload("w2", "2026-01-01T00:00:02Z"))]
    assert [kueue.queue_position(v, views) for v in views] == [2, 1]
    assert kueue.waiting_message("gpu-a", views[0], views) == \
        "waiting in queue gpu-a, position 2 (evicted: Exceeded the PodsReady timeout)"


def test_waiting_message_names_queue_position_and_kueues_reason() -> None:
    reason = "insufficient unused quota for cpu in flavor default, 1 more needed"
    views = [kueue.workload_view(_workload("w1", "2026-01-01T00:00:01Z", reserved=True)),
             kueue.workload_view(_workload("w2", "2026-01-01T00:00:02Z", message=reason))]
    text = kueue.waiting_message("gpu-a", views[1], views)
    assert text == ("waiting in queue gpu-a, position 1: "
                    "insufficient unused quota for cpu in flavor default, 1 more needed")
    assert "has not created its Workload" in kueue.waiting_message("gpu-a", None, views)


def test_kueue_holding_the_job_is_queued_not_stopped() -> None:
    decided = TrainingState("Stopped", "Suspended", "stopped", 0)
    state = kueue.queue_state(_job_view(), False, decided, "waiting in queue gpu-a, position 2")
    assert (state.phase, state.reason, state.message) == ("Queued", kueue.WAITING_REASON,
                                                          "waiting in queue gpu-a, position 2")
    # Before the first position is known: the queue is still named.
    assert kueue.queue_state(_job_view(), False, decided, None).message == \
        "waiting in queue gpu-a for admission by Kueue"


def test_a_users_stop_stays_a_stop_and_unqueued_jobs_are_untouched() -> None:
    decided = TrainingState("Stopped", "Suspended", "stopped", 1)
    assert kueue.queue_state(_job_view(), True, decided, "x") is decided
    assert kueue.queue_state(_job_view(queue=None), False, decided, "x") is decided
    finished = _job_view(conditions=[{"type": "Complete", "status": "True"}])
    assert kueue.queue_state(finished, False, decided, "x") is decided


def test_activation_patch_follows_stop_and_start() -> None:
    running = kueue.workload_view(_workload("w1", "t", reserved=True))
    stopped = kueue.workload_view(_workload("w1", "t", active=False))
    assert kueue.activation_patch(running, stop=True) == {"spec": {"active": False}}
    assert kueue.activation_patch(running, stop=False) is None
    assert kueue.activation_patch(stopped, stop=False) == {"spec": {"active": True}}
    assert kueue.activation_patch(None, stop=True) is None

"""Job + pods -> phase, reason and message: every transition a user can see."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.operator.observed import job_view, pod_view
from kubetune.operator.phases import TrainingState, training_conditions, training_state


def job(
    *,
    suspend: bool = False,
    active: int = 0,
    failed: int = 0,
    succeeded: int = 0,
    conditions: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return job_view(
        {
            "metadata": {"name": "t-train", "uid": "j1"},
            "spec": {"suspend": suspend, "backoffLimit": 2, **spec},
            "status": {
                "active": active,
                "failed": failed,
                "succeeded": succeeded,
                "conditions": conditions or [],
                "completionTime": "2026-01-01T00:00:00Z" if conditions else None,
            },
        }
    )


def pod(
    name: str = "p1",
    phase: str = "Pending",
    *,
    created: str = "2026-01-01T00:00:01Z",
    node: str | None = "node-1",
    state: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    statuses = [{"name": "trainer", "state": state, "ready": False, "restartCount": 0}] if state else []
    return pod_view(
        {
            "metadata": meta,
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions or [], "containerStatuses": statuses},
        }
    )


def failed_pod(name: str, code: int, message: str = "", reason: str = "Error", created: str = "1") -> dict[str, Any]:
    return pod(
        name, "Failed", created=created, state={"terminated": {"exitCode": code, "reason": reason, "message": message}}
    )


def test_no_job_is_pending() -> None:
    assert training_state(None, []).phase == "Pending"


def test_job_without_pods_is_queued() -> None:
    state = training_state(job(), [])
    assert (state.phase, state.reason) == ("Queued", "PodNotCreated")


@pytest.mark.parametrize(
    ("message", "reason", "expect"),
    [
        ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", "WaitingForGPUs", "waiting for GPUs"),
        (
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
            "Unschedulable",
            "unschedulable",
        ),
    ],
)
def test_unschedulable_pods_say_why(message: str, reason: str, expect: str) -> None:
    unscheduled = pod(
        node=None,
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}],
    )
    state = training_state(job(active=1), [unscheduled])
    assert (state.phase, state.reason) == ("Queued", reason)
    assert state.message.startswith(expect) and message in state.message


def test_a_gpu_product_no_node_offers_is_waiting_for_gpus() -> None:
    """The Trainer's GPU product node selector matches no node: the scheduler says "affinity/selector",
    the user needs to hear that no node has those GPUs."""
    message = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
    unscheduled = pod(node=None, conditions=[{"type": "PodScheduled", "status": "False",
                                              "reason": "Unschedulable", "message": message}])
    unscheduled["gpuProduct"] = "NVIDIA-H100-80GB-HBM3"
    state = training_state(job(active=1), [unscheduled])
    assert (state.phase, state.reason) == ("Queued", "WaitingForGPUs")
    assert "no node offers NVIDIA-H100-80GB-HBM3" in state.message and message in state.message


def test_pulling_the_image_is_queued() -> None:
    creating = pod(state={"waiting": {"reason": "ContainerCreating"}})
    state = training_state(job(active=1), [creating])
    assert (state.phase, state.reason) == ("Queued", "PullingImage")


def test_image_pull_backoff_fails_with_the_reason() -> None:
    stuck = pod(state={"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nope"'}})
    state = training_state(job(active=1), [stuck])
    assert (state.phase, state.reason) == ("Failed", "ImagePullError")
    assert "ImagePullBackOff" in state.message and "nope" in state.message


def test_running_container_is_running() -> None:
    state = training_state(job(active=1), [pod(phase="Running", state={"running": {"startedAt": "x"}})])
    assert (state.phase, state.attempts) == ("Running", 1)


def test_complete_job_succeeded() -> None:
    done = job(succeeded=1, conditions=[{"type": "Complete", "status": "True"}])
    state = training_state(done, [pod(phase="Succeeded", state={"terminated": {"exitCode": 0}})])
    assert (state.phase, state.completion_time) == ("Succeeded", "2026-01-01T00:00:00Z")


def test_a_finished_pod_before_the_job_completes_is_still_running() -> None:
    """The Job controller marks completion a moment after the pod ends: never fall back to Queued."""
    finishing = job(succeeded=1)
    state = training_state(finishing, [pod(phase="Succeeded", state={"terminated": {"exitCode": 0}})])
    assert (state.phase, state.reason) == ("Running", "Finishing")


def test_backoff_limit_exceeded_reports_exit_code_and_termination_message() -> None:
    failed = job(failed=3, conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])
    pods = [
        failed_pod("a", 1, "first", created="1"),
        failed_pod("b", 3, "CUDA error: device lost", created="3"),
        failed_pod("c", 2, "second", created="2"),
    ]
    state = training_state(failed, pods)
    assert (state.phase, state.reason, state.attempts) == ("Failed", "ExitCode", 3)
    assert "backoff limit exceeded after 3 attempt(s) (backoffLimit 2)" in state.message
    assert "exited with code 3: CUDA error: device lost" in state.message


def test_oom_killed_is_named() -> None:
    failed = job(failed=1, conditions=[{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"}])
    state = training_state(failed, [failed_pod("a", 137, reason="OOMKilled")])
    assert (state.phase, state.reason) == ("Failed", "OOMKilled")
    assert "out of memory (OOMKilled, exit code 137)" in state.message


def test_deadline_exceeded_is_named() -> None:
    failed = job(
        activeDeadlineSeconds=60, conditions=[{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]
    )
    state = training_state(failed, [])
    assert (state.phase, state.reason) == ("Failed", "DeadlineExceeded")
    assert "activeDeadlineSeconds (60s)" in state.message


def test_a_retry_mentions_the_previous_failure() -> None:
    pods = [failed_pod("a", 4, "bad batch", created="1"), pod("b", "Running", created="2", state={"running": {}})]
    state = training_state(job(active=1, failed=1), pods)
    assert (state.phase, state.attempts) == ("Running", 2)
    assert "previous attempt exited with code 4: bad batch" in state.message


def test_suspend_goes_through_stopping_to_stopped() -> None:
    running = pod(phase="Running", state={"running": {}})
    assert training_state(job(active=1), [running], suspend_requested=True).phase == "Stopping"
    assert training_state(job(suspend=True, active=1), [running]).phase == "Stopping"
    terminating = pod(phase="Running", state={"running": {}}, deleting=True)
    assert training_state(job(suspend=True), [terminating]).phase == "Stopping"
    stopped = training_state(job(suspend=True), [])
    assert stopped.phase == "Stopped" and "checkpoints are kept" in stopped.message


def test_conditions_mark_exactly_the_current_phase() -> None:
    state = training_state(job(active=1), [pod(phase="Running", state={"running": {}})])
    conds = {c["type"]: c for c in training_conditions(state, generation=3)}
    assert conds["Running"]["status"] == "True"
    assert list(conds) == ["Running"]  # no "Failed False" for a run that never failed
    assert all(c["observedGeneration"] == 3 for c in conds.values())


def test_a_family_that_was_true_goes_false_naming_what_ended_it() -> None:
    running = training_conditions(TrainingState("Running", "Running", "attempt 1"), 2)
    pending = training_conditions(TrainingState("Pending", "WaitingForDataset", "waiting"), 1)
    done = training_conditions(TrainingState("Succeeded", "Succeeded", "done"), 2, pending + running)
    conds = {c["type"]: (c["status"], c["reason"]) for c in done}
    assert conds == {"Pending": ("False", "Succeeded"), "Running": ("False", "Succeeded"),
                     "Succeeded": ("True", "Succeeded")}


def test_a_pending_training_says_why_in_its_pending_condition() -> None:
    state = TrainingState("Pending", "TrainerNotFound", "Trainer lora does not exist (yet)")
    conds = {c["type"]: c for c in training_conditions(state, generation=1)}
    assert [t for t, c in conds.items() if c["status"] == "True"] == ["Pending"]
    assert conds["Pending"]["reason"] == "TrainerNotFound"
    assert conds["Pending"]["message"] == "Trainer lora does not exist (yet)"

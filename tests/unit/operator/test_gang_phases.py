"""A multi-node Training's group: per-node states, the node that failed first, when the group restarts."""

from __future__ import annotations

from typing import Any

from kubetune.operator import gang
from kubetune.operator.observed import job_view, pod_view
from kubetune.operator.phases import training_state


def group_job(*, active: int = 0, failed: int = 0, reason: str | None = None, before: int = 0,
              deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "t-train", "uid": "j2",
                            "annotations": {"kubetune.io/attempts-before": str(before)} if before else {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:09:00Z"
    conditions = [{"type": "Failed", "status": "True", "reason": reason}] if reason else []
    return job_view({
        "metadata": meta,
        "spec": {"completionMode": "Indexed", "completions": 2, "parallelism": 2, "backoffLimit": 0},
        "status": {"active": active, "failed": failed, "conditions": conditions},
    })


def node_pod(index: int, *, running: bool = False, exit_code: int | None = None, reason: str = "Error",
             finished: str = "2026-01-01T00:05:00Z", job_uid: str = "j2", waiting: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {}
    phase = "Pending"
    if running:
        state, phase = {"running": {"startedAt": "x"}}, "Running"
    elif exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "reason": reason, "finishedAt": finished}}
        phase = "Failed" if exit_code else "Succeeded"
    elif waiting:
        state = {"waiting": {"reason": waiting}}
    return pod_view({
        "metadata": {"name": f"t-train-{index}-abc", "creationTimestamp": "2026-01-01T00:00:01Z",
                     "annotations": {"batch.kubernetes.io/job-completion-index": str(index)},
                     "labels": {"batch.kubernetes.io/controller-uid": job_uid}},
        "spec": {"nodeName": "n1"},
        "status": {"phase": phase, "containerStatuses": [{"name": "trainer", "state": state}] if state else []},
    })


def test_every_node_running_reads_compactly() -> None:
    state = training_state(group_job(active=2), [node_pod(0, running=True), node_pod(1, running=True)])
    assert state.phase == "Running"
    assert state.nodes == "2/2 Running"
    assert [s["phase"] for s in state.node_states] == ["Running", "Running"]
    assert state.attempts == 1  # one group, not two pods


def test_a_node_still_starting_is_named() -> None:
    state = training_state(group_job(active=2), [node_pod(0, running=True),
                                                 node_pod(1, waiting="ContainerCreating")])
    assert state.nodes == "1/2 Running; node 1 Pending (ContainerCreating)"


def test_a_group_runs_only_when_every_node_does_and_says_which_waits() -> None:
    state = training_state(group_job(active=2), [node_pod(0, running=True), node_pod(1, waiting="ImagePullBackOff")])
    assert (state.phase, state.reason) == ("Failed", "ImagePullError")
    assert state.message.startswith("node 1: cannot pull the trainer image (ImagePullBackOff)")
    state = training_state(group_job(active=2), [node_pod(0, running=True), node_pod(1, waiting="ContainerCreating")])
    assert (state.phase, state.reason) == ("Queued", "PullingImage")
    assert state.message.startswith("node 1: ")


def test_the_node_that_failed_first_is_the_message() -> None:
    pods = [node_pod(0, exit_code=143, finished="2026-01-01T00:05:09Z"),  # ended by the Job controller
            node_pod(1, exit_code=137, reason="OOMKilled", finished="2026-01-01T00:05:00Z")]
    state = training_state(group_job(failed=2, reason="BackoffLimitExceeded"), pods)
    assert state.phase == "Failed"
    assert state.reason == "OOMKilled"
    assert "node 1 (pod t-train-1-abc): out of memory (OOMKilled, exit code 137)" in state.message
    assert state.nodes == "0/2 Running; node 0 Failed (ExitCode); node 1 Failed (OOMKilled)"


def test_in_the_same_second_the_killed_node_wins_over_the_peers_the_job_ended() -> None:
    pods = [node_pod(0, exit_code=143, finished="2026-01-01T00:05:00Z"),
            node_pod(1, exit_code=137, finished="2026-01-01T00:05:00Z")]
    assert gang.first_failure(group_job(failed=2), pods) == (
        "ExitCode", "node 1 (pod t-train-1-abc): exited with code 137")


def test_a_failed_node_stops_the_group_before_the_job_says_so() -> None:
    state = training_state(group_job(active=1, failed=1), [node_pod(0, running=True), node_pod(1, exit_code=137)])
    assert (state.phase, state.reason) == ("Queued", "NodeFailed")
    assert state.message == "node 1 (pod t-train-1-abc): exited with code 137; the group stops"


def test_pods_of_an_earlier_group_do_not_count() -> None:
    stale = node_pod(0, exit_code=137, job_uid="old")
    state = training_state(group_job(active=2, before=1), [stale, node_pod(0, running=True),
                                                          node_pod(1, running=True)])
    assert state.nodes == "2/2 Running"
    assert state.attempts == 2  # the earlier group's attempt plus this one


def test_only_a_retryable_failure_with_attempts_left_restarts() -> None:
    failed = group_job(failed=1, reason="BackoffLimitExceeded")
    assert gang.restart_due(failed, attempts=1, backoff_limit=2)
    assert gang.restart_due(failed, attempts=2, backoff_limit=2)
    assert not gang.restart_due(failed, attempts=3, backoff_limit=2)  # spent
    # The trainer's permanent exit code: the podFailurePolicy failed the Job, retrying cannot help.
    assert not gang.restart_due(group_job(failed=1, reason="PodFailurePolicy"), attempts=1, backoff_limit=2)
    assert not gang.restart_due(group_job(failed=1, reason="DeadlineExceeded"), attempts=1, backoff_limit=2)
    assert not gang.restart_due(group_job(active=2), attempts=1, backoff_limit=2)
    assert not gang.restart_due(group_job(failed=1, reason="BackoffLimitExceeded", deleting=True), 1, 2)

"""PodStatus computation: phase, conditions, container states, termination messages."""

from __future__ import annotations

import datetime as dt

import pytest

from kubetune.localdev.node import status
from kubetune.localdev.node.status import ContainerRecord, Termination

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=7)


def running(name: str = "c", ready: bool = True) -> ContainerRecord:
    return ContainerRecord(name=name, image="img", state="running", started_at=T0, ready=ready, started=True, pid=42)


def finished(code: int, name: str = "c", message: str = "") -> ContainerRecord:
    term = Termination(code, status.termination_reason(code), message, T0, T1)
    return ContainerRecord(name=name, image="img", state="terminated", terminated=term, done=True, pid=42)


def test_phase_pending_until_a_container_starts() -> None:
    assert status.pod_phase([], [ContainerRecord(name="c", image="img")]) == "Pending"


def test_phase_running_with_one_running_container() -> None:
    assert status.pod_phase([], [running(), ContainerRecord(name="d", image="img")]) == "Running"


def test_phase_succeeded_only_when_every_container_exited_zero() -> None:
    assert status.pod_phase([], [finished(0), finished(0, "d")]) == "Succeeded"
    assert status.pod_phase([], [finished(0), finished(3, "d")]) == "Failed"


def test_phase_running_while_a_failed_container_waits_for_restart() -> None:
    crashed = ContainerRecord(
        name="c", image="img", state="waiting", waiting_reason="CrashLoopBackOff", restart_count=1
    )
    assert status.pod_phase([], [crashed]) == "Running"


def test_failed_init_container_without_restart_fails_the_pod() -> None:
    assert status.pod_phase([finished(1, "init")], [ContainerRecord(name="c", image="img")]) == "Failed"


def test_unfinished_init_container_keeps_the_pod_pending() -> None:
    init = ContainerRecord(name="init", image="img", state="running", started_at=T0)
    assert status.pod_phase([init], [ContainerRecord(name="c", image="img")]) == "Pending"
    assert not status.initialized([init])


def test_terminated_state_carries_exit_code_reason_message_and_times() -> None:
    got = status.container_status(finished(3, message="boom"))
    assert got["state"]["terminated"] == {
        "exitCode": 3,
        "reason": "Error",
        "message": "boom",
        "startedAt": "2026-01-02T03:04:05Z",
        "finishedAt": "2026-01-02T03:04:12Z",
        "containerID": "kubetune://42",
    }
    assert got["ready"] is False


def test_completed_reason_for_exit_zero() -> None:
    assert status.container_status(finished(0))["state"]["terminated"]["reason"] == "Completed"


def test_restarted_container_shows_last_state_and_count() -> None:
    record = running()
    record.restart_count = 2
    record.last_terminated = Termination(1, "Error", "", T0, T1)
    got = status.container_status(record)
    assert got["restartCount"] == 2
    assert got["lastState"]["terminated"]["exitCode"] == 1
    assert got["state"] == {"running": {"startedAt": "2026-01-02T03:04:05Z"}}


def test_waiting_state_reason_and_message() -> None:
    record = ContainerRecord(
        name="c", image="img", waiting_reason="CreateContainerConfigError", waiting_message="no cm"
    )
    assert status.container_status(record)["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": "no cm"}
    }


def test_termination_message_prefers_the_written_file() -> None:
    assert status.termination_message("written", "log tail", 1, "FallbackToLogsOnError") == "written"


def test_fallback_to_logs_only_on_error_and_only_when_nothing_was_written() -> None:
    assert status.termination_message("", "log tail", 1, "FallbackToLogsOnError") == "log tail"
    assert status.termination_message("", "log tail", 0, "FallbackToLogsOnError") == ""
    assert status.termination_message("", "log tail", 1, "File") == ""


def test_termination_message_is_capped_at_4096_bytes_keeping_the_end() -> None:
    message = status.termination_message("x" * 5000 + "END", "", 1, None)
    assert len(message.encode()) == 4096 and message.endswith("END")


def conditions_by_type(conditions: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {c["type"]: c for c in conditions}


def test_ready_conditions_follow_container_readiness() -> None:
    ready = conditions_by_type(status.pod_conditions("Running", [], [running()], [], True, T1))
    assert ready["Ready"]["status"] == "True" and ready["ContainersReady"]["status"] == "True"
    not_ready = conditions_by_type(status.pod_conditions("Running", [], [running(ready=False)], [], True, T1))
    assert not_ready["Ready"]["status"] == "False"
    assert not_ready["Ready"]["reason"] == "ContainersNotReady"
    assert not_ready["PodScheduled"]["status"] == "True"


def test_completed_pod_is_not_ready_with_reason_pod_completed() -> None:
    got = conditions_by_type(status.pod_conditions("Succeeded", [], [finished(0)], [], True, T1))
    assert got["Ready"]["status"] == "False" and got["Ready"]["reason"] == "PodCompleted"


def test_transition_time_kept_while_status_unchanged() -> None:
    first = status.pod_conditions("Running", [], [running()], [], True, T0)
    again = conditions_by_type(status.pod_conditions("Running", [], [running()], first, True, T1))
    assert again["Ready"]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    flipped = conditions_by_type(status.pod_conditions("Running", [], [running(ready=False)], first, True, T1))
    assert flipped["Ready"]["lastTransitionTime"] == "2026-01-02T03:04:12Z"


def test_pod_status_has_pod_and_host_ip_and_keeps_start_time() -> None:
    got = status.pod_status({"startTime": "2020-01-01T00:00:00Z"}, [], [running()], "10.244.1.1", "127.0.0.1", T0, T1)
    assert got["podIP"] == "10.244.1.1" and got["podIPs"] == [{"ip": "10.244.1.1"}]
    assert got["hostIP"] == "127.0.0.1"
    assert got["startTime"] == "2020-01-01T00:00:00Z"
    assert got["phase"] == "Running"
    assert "initContainerStatuses" not in got


def test_without_times_ignores_probe_times_only() -> None:
    a = {"conditions": [{"type": "Ready", "status": "True", "lastProbeTime": "x"}]}
    b = {"conditions": [{"type": "Ready", "status": "True", "lastProbeTime": "y"}]}
    c = {"conditions": [{"type": "Ready", "status": "False", "lastProbeTime": "y"}]}
    assert status.without_times(a) == status.without_times(b) != status.without_times(c)

"""PodStatus from what the agent knows about its containers: pure functions.

The worker keeps one `ContainerRecord` per container; `pod_status` turns them
into the status the API server stores, following the kubelet's rules for the
phase and the standard conditions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

WAITING: Final = "waiting"
RUNNING: Final = "running"
TERMINATED: Final = "terminated"
MAX_MESSAGE_BYTES = 4096  # the kubelet's cap on a termination message

State = Literal["waiting", "running", "terminated"]


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Termination:
    exit_code: int
    reason: str
    message: str
    started_at: dt.datetime | None
    finished_at: dt.datetime

    def as_dict(self, container_id: str) -> dict[str, Any]:
        state: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "finishedAt": timestamp(self.finished_at),
            "containerID": container_id,
        }
        if self.started_at is not None:
            state["startedAt"] = timestamp(self.started_at)
        if self.message:
            state["message"] = self.message
        return state


def termination_reason(exit_code: int) -> str:
    return "Completed" if exit_code == 0 else "Error"


def termination_message(written: str, log_tail: str, exit_code: int, policy: str | None) -> str:
    """The terminationMessagePath file's content, or the log tail under FallbackToLogsOnError."""
    message = written
    if not message.strip() and exit_code != 0 and policy == "FallbackToLogsOnError":
        message = log_tail
    return message.encode()[-MAX_MESSAGE_BYTES:].decode(errors="ignore")


@dataclass
class ContainerRecord:
    """What the agent knows about one container; the worker updates it, status reads it."""

    name: str
    image: str
    state: State = WAITING
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    started_at: dt.datetime | None = None
    terminated: Termination | None = None
    last_terminated: Termination | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    done: bool = False  # terminated and will not be restarted
    pid: int | None = None

    @property
    def container_id(self) -> str:
        return f"kubetune://{self.pid}" if self.pid is not None else ""

    @property
    def succeeded(self) -> bool:
        return self.state == TERMINATED and self.terminated is not None and self.terminated.exit_code == 0

    def state_dict(self) -> dict[str, Any]:
        if self.state == RUNNING and self.started_at is not None:
            return {"running": {"startedAt": timestamp(self.started_at)}}
        if self.state == TERMINATED and self.terminated is not None:
            return {"terminated": self.terminated.as_dict(self.container_id)}
        waiting: dict[str, Any] = {"reason": self.waiting_reason}
        if self.waiting_message:
            waiting["message"] = self.waiting_message
        return {"waiting": waiting}


def container_status(record: ContainerRecord) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": record.name,
        "image": record.image,
        "imageID": "",
        "ready": record.ready,
        "started": record.started,
        "restartCount": record.restart_count,
        "state": record.state_dict(),
        "lastState": {},
    }
    if record.container_id:
        status["containerID"] = record.container_id
    if record.last_terminated is not None:
        status["lastState"] = {"terminated": record.last_terminated.as_dict(record.container_id)}
    return status


def initialized(init_records: Sequence[ContainerRecord]) -> bool:
    return all(record.succeeded for record in init_records)


def pod_phase(init_records: Sequence[ContainerRecord], records: Sequence[ContainerRecord]) -> str:
    """Pending, Running, Succeeded or Failed, by the kubelet's rules."""
    if any(record.done and not record.succeeded for record in init_records):
        return "Failed"
    if not initialized(init_records):
        return "Pending"
    if records and all(record.done for record in records):
        return "Succeeded" if all(record.succeeded for record in records) else "Failed"
    if any(record.state != WAITING or record.restart_count > 0 for record in records):
        return "Running"
    return "Pending"


def _condition(
    kind: str,
    true: bool,
    previous: Mapping[str, Mapping[str, Any]],
    now: str,
    reason: str | None = None,
) -> dict[str, Any]:
    status = "True" if true else "False"
    old = previous.get(kind)
    changed = old is None or old.get("status") != status
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": now if changed else old.get("lastTransitionTime", now),  # type: ignore[union-attr]
    }
    if reason and not true:
        condition["reason"] = reason
    return condition


def pod_conditions(
    phase: str,
    init_records: Sequence[ContainerRecord],
    records: Sequence[ContainerRecord],
    previous: Sequence[Mapping[str, Any]],
    sandbox_ready: bool,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    by_type = {condition["type"]: condition for condition in previous}
    stamp = timestamp(now)
    finished = phase in ("Succeeded", "Failed")
    containers_ready = bool(records) and all(record.ready for record in records) and not finished
    not_ready_reason = "PodCompleted" if finished else "ContainersNotReady"
    return [
        _condition("PodReadyToStartContainers", sandbox_ready and not finished, by_type, stamp),
        _condition(
            "Initialized",
            initialized(init_records),
            by_type,
            stamp,
            "PodCompleted" if finished else "ContainersNotInitialized",
        ),
        _condition("Ready", containers_ready, by_type, stamp, not_ready_reason),
        _condition("ContainersReady", containers_ready, by_type, stamp, not_ready_reason),
        _condition("PodScheduled", True, by_type, stamp),
    ]


def pod_status(
    previous: Mapping[str, Any],
    init_records: Sequence[ContainerRecord],
    records: Sequence[ContainerRecord],
    pod_ip: str | None,
    host_ip: str,
    start_time: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    """The whole status, to be sent as a merge patch (its lists replace the stored ones)."""
    phase = pod_phase(init_records, records)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": pod_conditions(
            phase, init_records, records, previous.get("conditions") or [], pod_ip is not None, now
        ),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": previous.get("startTime") or timestamp(start_time),
        "containerStatuses": [container_status(record) for record in records],
    }
    if init_records:
        status["initContainerStatuses"] = [container_status(record) for record in init_records]
    if pod_ip is not None:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status


def without_times(status: Mapping[str, Any]) -> Any:
    """The status with heartbeat-like fields dropped, to decide whether a patch is needed."""
    if isinstance(status, Mapping):
        return {key: without_times(value) for key, value in status.items() if key != "lastProbeTime"}
    if isinstance(status, list):
        return [without_times(item) for item in status]
    return status

"""Waiting on the API (list, then watch; never sleeps) and reading what the local node reports."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from kube_waits import Obj as Obj
from kube_waits import wait_for as wait_for
from kube_waits import wait_gone as wait_gone

from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.runtime import session_members

LOCAL_NODE = "local-node"
Waiter = Callable[..., Obj]


def container_state(pod: Obj, name: str | None = None) -> Obj:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    for item in statuses:
        if name is None or item["name"] == name:
            return dict(item.get("state") or {})
    return {}


def terminated(pod: Obj) -> bool:
    return "terminated" in container_state(pod)


def main_pid(pod: Obj) -> int:
    """The container's main process, from the containerID the agent writes (kubetune://<pid>)."""
    container_id = pod["status"]["containerStatuses"][0]["containerID"]
    assert container_id.startswith("kubetune://")
    return int(container_id.removeprefix("kubetune://"))


def log_of(agent: NodeAgent, pod: Obj, container: str) -> str:
    meta = pod["metadata"]
    directory = agent.config.logs_dir / f"{meta['namespace']}_{meta['name']}_{meta['uid']}" / container
    return "".join(path.read_text() for path in sorted(Path(directory).glob("*.log")))


def process_tree(leader: int, sleeps: int, timeout: float = 30) -> list[psutil.Process]:
    """The container's processes once `sleeps` sleep processes run in its session.

    Polls /proc up to a deadline: process creation inside the pod has no API event to watch.
    """
    deadline = time.monotonic() + timeout
    while True:
        members = []
        for pid in session_members(leader):
            with contextlib.suppress(psutil.NoSuchProcess):
                members.append(psutil.Process(pid))
        names = [member.name() for member in members if member.is_running()]
        if names.count("sleep") >= sleeps:
            return members
        if time.monotonic() > deadline:
            raise TimeoutError(f"session {leader} has {names}, wanted {sleeps} sleep processes")
        time.sleep(0.05)

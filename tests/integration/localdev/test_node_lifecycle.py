"""Deleting a pod stops its processes (with the grace period), restarts follow restartPolicy,
and a stopped agent leaves no process behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest
from kubernetes import client
from node_waits import LOCAL_NODE, Obj, container_state, main_pid, process_tree, wait_for, wait_gone

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig

pytestmark = pytest.mark.integration


def pod(name: str, command: list[str], node: str | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": command}], **spec},
    }
    if node is not None:
        body["spec"]["nodeName"] = node  # bound directly, bypassing the scheduler
    return body


def running(p: Obj) -> bool:
    return "running" in container_state(p)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# A shell that starts a child and waits: both must go.
SHELL_WITH_CHILD = ["sh", "-c", "sleep 1000 & wait"]
IGNORES_SIGTERM = [
    "python",
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)",
]


def test_deleting_a_pod_stops_its_process_tree(core: client.CoreV1Api, namespace: str, local_node: NodeAgent) -> None:
    core.create_namespaced_pod(namespace, pod("sleeper", SHELL_WITH_CHILD))
    started = wait_for(core.list_namespaced_pod, running, namespace, field_selector="metadata.name=sleeper")
    assert started["spec"]["nodeName"] == LOCAL_NODE
    tree = process_tree(main_pid(started), sleeps=1)  # the shell and its sleep, at least

    core.delete_namespaced_pod("sleeper", namespace)
    wait_gone(core.list_namespaced_pod, "sleeper", namespace)

    assert all(gone(member.pid) for member in tree)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(
    core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    core.create_namespaced_pod(namespace, pod("stubborn", IGNORES_SIGTERM, terminationGracePeriodSeconds=2))
    started = wait_for(core.list_namespaced_pod, running, namespace, field_selector="metadata.name=stubborn")
    pid = main_pid(started)

    core.delete_namespaced_pod("stubborn", namespace)
    wait_gone(core.list_namespaced_pod, "stubborn", namespace)

    assert gone(pid)


def test_on_failure_restarts_until_success(core: client.CoreV1Api, namespace: str, local_node: NodeAgent) -> None:
    # Fails on the first run, succeeds on the second: the marker file lives in an emptyDir,
    # which survives container restarts.
    script = 'test -f "$KUBETUNE_MOUNT_SCRATCH/ran" && exit 0; touch "$KUBETUNE_MOUNT_SCRATCH/ran"; exit 1'
    body = pod("flaky", ["sh", "-c", script], restartPolicy="OnFailure", volumes=[{"name": "s", "emptyDir": {}}])
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "s", "mountPath": "/scratch"}]
    core.create_namespaced_pod(namespace, body)

    done = wait_for(
        core.list_namespaced_pod,
        lambda p: p["status"].get("phase") == "Succeeded",
        namespace,
        field_selector="metadata.name=flaky",
    )
    status = done["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["terminated"]["exitCode"] == 0


def test_stopping_the_agent_leaves_no_process_behind(
    control_plane: ControlPlane, core: client.CoreV1Api, namespace: str, tmp_path: Path
) -> None:
    name = "stop-test-node"
    config = NodeConfig(
        kubeconfig=control_plane.kubeconfig,
        name=name,
        state_dir=tmp_path,
        labels={"kubetune.io/test": "stop"},
    )
    agent = NodeAgent(config).start()
    try:
        core.create_namespaced_pod(namespace, pod("tree", SHELL_WITH_CHILD, node=name))
        core.create_namespaced_pod(
            namespace, pod("stubborn", IGNORES_SIGTERM, node=name, terminationGracePeriodSeconds=1)
        )
        trees: list[int] = []
        for pod_name, sleeps in (("tree", 1), ("stubborn", 0)):
            started = wait_for(core.list_namespaced_pod, running, namespace, field_selector=f"metadata.name={pod_name}")
            trees += [process.pid for process in process_tree(main_pid(started), sleeps=sleeps)]
        assert set(agent.processes()) <= set(trees)
    finally:
        agent.stop()
        # Nothing else may be scheduled onto a node that is no longer there.
        core.delete_node(name)

    assert [pid for pid in trees if not gone(pid)] == []
    assert agent.processes() == []


def test_a_just_started_pod_stops_on_sigterm_not_after_its_grace_period(
    core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    # Deleted the moment it runs: the SIGTERM may reach the container before its init has
    # signal handlers. sleep dies on SIGTERM, so the deletion must end long before 600 s.
    core.create_namespaced_pod(namespace, pod("fresh", ["sleep", "1000"], terminationGracePeriodSeconds=600))
    started = wait_for(core.list_namespaced_pod, running, namespace, field_selector="metadata.name=fresh")
    pid = main_pid(started)

    core.delete_namespaced_pod("fresh", namespace)
    wait_gone(core.list_namespaced_pod, "fresh", namespace, timeout=60)

    assert gone(pid)

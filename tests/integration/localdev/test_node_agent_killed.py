"""However the agent ends (Ctrl-C, or killed outright), no pod process survives it.

The agent runs as its own process here (the `kubetune-node` command), so the test can
interrupt or SIGKILL it as a user or a CI timeout would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from kubernetes import client
from node_waits import Obj, container_state, main_pid, process_tree, wait_for

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.runtime import can_isolate

pytestmark = pytest.mark.integration


def node_ready(node: Obj) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["interrupted", "killed"])
def test_no_pod_process_outlives_the_agent(
    control_plane: ControlPlane, core: client.CoreV1Api, namespace: str, tmp_path: Path, how: signal.Signals
) -> None:
    if how == signal.SIGKILL and not can_isolate():
        pytest.fail("surviving SIGKILL needs PID namespaces (root and util-linux unshare)")
    name = f"{how.name.lower()}-node"
    command = [sys.executable, "-m", "kubetune.localdev.node", "--kubeconfig", str(control_plane.kubeconfig)]
    command += ["--name", name, "--state-dir", str(tmp_path)]
    agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("wb"))
    try:
        wait_for(core.list_node, node_ready, field_selector=f"metadata.name={name}")
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "tree"},
            "spec": {
                "nodeName": name,
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    # A grandchild that outlives its parent: only the namespace's death takes it.
                    {"name": "main", "image": "busybox", "command": ["sh", "-c", "(sleep 1000 &); sleep 1000"]}
                ],
            },
        }
        core.create_namespaced_pod(namespace, body)
        pod = wait_for(
            core.list_namespaced_pod,
            lambda p: "running" in container_state(p),
            namespace,
            field_selector="metadata.name=tree",
        )
        tree = process_tree(main_pid(pod), sleeps=2)

        agent.send_signal(how)
        agent.wait(timeout=60)
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert alive == []
        if how == signal.SIGINT:
            assert agent.returncode == 0, (tmp_path / "agent.log").read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        core.delete_node(name)

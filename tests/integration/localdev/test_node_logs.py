"""`kubectl logs` on the local node, as on a real cluster: the API server reads pods/log from the node's
kubelet API (kubeletapi.py) with its client certificate; the output is what the pod's process wrote,
`follow` streams new lines until the container ends, `previous` is the run before the last restart."""

from __future__ import annotations

import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from node_waits import Obj, container_state, wait_for

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent

pytestmark = pytest.mark.integration


def _pod(core: client.CoreV1Api, namespace: str, name: str, script: str, restart: str = "Never",
         **container: Any) -> None:
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script], **container}]}})


def _wait(core: client.CoreV1Api, namespace: str, name: str, done: Callable[[Obj], bool]) -> Obj:
    return wait_for(core.list_namespaced_pod, done, namespace, field_selector=f"metadata.name={name}")


def test_kubectl_logs_reads_what_the_pod_wrote(control_plane: ControlPlane, core: client.CoreV1Api,
                                               namespace: str, local_node: NodeAgent) -> None:
    _pod(core, namespace, "hello", "echo hello from the pod; echo line two >&2")
    _wait(core, namespace, "hello", lambda p: p["status"].get("phase") == "Succeeded")
    assert core.read_namespaced_pod_log("hello", namespace) == "hello from the pod\nline two\n"
    assert core.read_namespaced_pod_log("hello", namespace, tail_lines=1) == "line two\n"
    kubectl = control_plane.bin_dir / "kubectl"
    if kubectl.is_file():  # build.sh builds it beside the control plane
        out = subprocess.run([str(kubectl), "--kubeconfig", str(control_plane.kubeconfig), "-n", namespace,
                              "logs", "hello"], capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout) == (0, "hello from the pod\nline two\n"), out.stderr


def test_follow_streams_new_lines_until_the_container_ends(core: client.CoreV1Api, namespace: str,
                                                          local_node: NodeAgent, tmp_path: Path) -> None:
    # The pod prints a line, waits for the test's go-ahead (a host file: pods are host processes), prints
    # another and ends: a followed log shows the second line only after the go-ahead, then closes.
    go = tmp_path / "go"
    _pod(core, namespace, "talker", f"echo first; while [ ! -e {go} ]; do sleep 0.1; done; echo second")
    _wait(core, namespace, "talker", lambda p: "running" in container_state(p))
    resp = core.read_namespaced_pod_log("talker", namespace, follow=True, _preload_content=False)
    received = b""
    chunks = resp.stream(1)  # byte by byte: each line as soon as the node sends it
    while not received.endswith(b"first\n"):
        received += next(chunks)
    go.touch()
    received += b"".join(chunks)  # ends because the container ended, not on a timeout
    assert received == b"first\nsecond\n"


def test_previous_is_the_run_before_the_restart(core: client.CoreV1Api, namespace: str,
                                                local_node: NodeAgent, tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    script = (f'n=$(cat {counter} 2>/dev/null || echo 0); echo "run $n"; echo $((n + 1)) > {counter}; '
              f'if [ "$n" -ge 1 ]; then exec sleep 1000; fi; exit 3')
    # Ready once the second run is past its echo (it writes the counter after it): an event to wait on.
    ready = {"exec": {"command": ["sh", "-c", f'[ "$(cat {counter})" = 2 ]']}, "periodSeconds": 1}
    _pod(core, namespace, "crasher", script, restart="Always", readinessProbe=ready)

    def second_run_ready(pod: Obj) -> bool:
        statuses = pod.get("status", {}).get("containerStatuses") or [{}]
        return bool(statuses[0].get("restartCount") == 1 and statuses[0].get("ready") is True)

    _wait(core, namespace, "crasher", second_run_ready)
    assert core.read_namespaced_pod_log("crasher", namespace) == "run 1\n"
    assert core.read_namespaced_pod_log("crasher", namespace, previous=True) == "run 0\n"


def test_no_one_but_the_api_server_reads_the_node(control_plane: ControlPlane, local_node: NodeAgent) -> None:
    assert local_node.kubelet_api is not None
    url = f"https://127.0.0.1:{local_node.kubelet_api.port}/containerLogs/default/any/main"
    anonymous = ssl.create_default_context(cafile=str(control_plane.ca_file))
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(url, context=anonymous, timeout=10)

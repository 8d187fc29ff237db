"""The local node's kubelet API behind the real API server: pods/log (the kubernetes client and kubectl)
reaches it with the API server's kubelet client certificate and the node's certificate is checked.

No pod runs here: a Node object advertises a KubeletAPI serving log files this test writes, and a pod is
bound to it by nodeName (test_node_logs.py does the same with pods the local node runs)."""

from __future__ import annotations

import secrets
import ssl
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node import registration
from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.node.kubeletapi import KubeletAPI

pytestmark = pytest.mark.integration


class LogFiles:
    """What a node's log directory holds for one pod, and whether its current run still writes."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.uid = ""
        self.running = threading.Event()

    def container(self, namespace: str, pod: str) -> Path:
        directory = self.logs / f"{namespace}_{pod}_{self.uid}" / "main"
        directory.mkdir(parents=True, exist_ok=True)
        return directory


@pytest.fixture
def node(control_plane: ControlPlane, api_client: client.ApiClient,
         tmp_path: Path) -> Iterator[tuple[str, KubeletAPI, LogFiles]]:
    name = f"logs-{secrets.token_hex(3)}"
    files = LogFiles(tmp_path / "logs")
    api = KubeletAPI(control_plane.kubelet_tls(name), files.logs, lambda ns, pod: files.uid or None,
                     lambda path: files.running.is_set() and path.name == "1.log")
    port = api.start()
    core = client.CoreV1Api(api_client)
    config = NodeConfig(kubeconfig=control_plane.kubeconfig, name=name)
    manifest = registration.node_manifest(config)
    # Nothing else may land here: no agent runs this node's pods.
    manifest["spec"] = {"unschedulable": True,
                        "taints": [{"key": "kubetune.io/log-test", "effect": "NoSchedule"}]}
    core.create_node(manifest)
    core.patch_node_status(name, {"status": registration.node_static_status(config, "v0", port)})
    try:
        yield name, api, files
    finally:
        core.delete_node(name)
        api.stop()


def _pod(core: client.CoreV1Api, namespace: str, node: str) -> Any:
    return core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "trainer"},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "kubetune/runtime:local"}]}})


def test_pod_log_through_the_api_server(control_plane: ControlPlane, api_client: client.ApiClient,
                                        namespace: str, node: tuple[str, KubeletAPI, LogFiles]) -> None:
    name, _, files = node
    core = client.CoreV1Api(api_client)
    files.uid = _pod(core, namespace, name).metadata.uid
    logs = files.container(namespace, "trainer")
    (logs / "0.log").write_text("run 0 failed\n")
    (logs / "1.log").write_text("step 1\nstep 2\n")

    assert core.read_namespaced_pod_log("trainer", namespace) == "step 1\nstep 2\n"
    assert core.read_namespaced_pod_log("trainer", namespace, tail_lines=1) == "step 2\n"
    assert core.read_namespaced_pod_log("trainer", namespace, previous=True) == "run 0 failed\n"
    assert core.read_namespaced_pod_log("trainer", namespace, limit_bytes=4) == "step"

    kubectl = control_plane.bin_dir / "kubectl"
    if kubectl.is_file():  # build.sh builds it beside the control plane
        out = subprocess.run([str(kubectl), "--kubeconfig", str(control_plane.kubeconfig), "-n", namespace,
                              "logs", "trainer", "--tail=1"], capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout) == (0, "step 2\n"), out.stderr


def test_follow_streams_until_the_run_ends(api_client: client.ApiClient, namespace: str,
                                           node: tuple[str, KubeletAPI, LogFiles]) -> None:
    name, _, files = node
    core = client.CoreV1Api(api_client)
    files.uid = _pod(core, namespace, name).metadata.uid
    log = files.container(namespace, "trainer") / "1.log"
    log.write_text("first\n")
    files.running.set()
    resp = core.read_namespaced_pod_log("trainer", namespace, follow=True, _preload_content=False)
    lines = resp.stream(1)  # byte by byte: each line as soon as the node sends it
    received = b""
    while not received.endswith(b"first\n"):
        received += next(lines)
    with open(log, "a") as handle:
        handle.write("second\n")
    while not received.endswith(b"second\n"):
        received += next(lines)
    files.running.clear()  # the container ends: the stream does too
    received += b"".join(lines)
    assert received == b"first\nsecond\n"


def test_only_the_api_server_may_read(control_plane: ControlPlane, node: tuple[str, KubeletAPI, LogFiles]) -> None:
    _, api, _ = node
    url = f"https://127.0.0.1:{api.port}/containerLogs/default/x/main"
    anonymous = ssl.create_default_context(cafile=str(control_plane.ca_file))
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(url, context=anonymous, timeout=10)
    # The scheduler's certificate is of the same CA, but the scheduler is not the API server.
    scheduler = ssl.create_default_context(cafile=str(control_plane.ca_file))
    cert, key = control_plane.work_dir / "pki" / "scheduler.crt", control_plane.work_dir / "pki" / "scheduler.key"
    scheduler.load_cert_chain(str(cert), str(key))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, context=scheduler, timeout=10)
    assert refused.value.code == 403

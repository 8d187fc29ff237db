"""The pod network: pod IPs live in a network namespace the node creates, never on the host.

Real processes in a real namespace: the host reaches a pod's server at its pod IP (from the
loopback source 127.255.0.1), the namespace reaches it too, the host's interfaces gain no
address outside 127.0.0.0/8, and a killed agent's namespace is removed when the next one starts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from node_waits import LOCAL_NODE, Obj, log_of, main_pid, wait_for

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node import netns
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig

pytestmark = pytest.mark.integration

PORT = 8080


def host_addresses() -> list[tuple[str, str]]:
    """(interface, address) for every address of the host's network namespace."""
    listing = json.loads(subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True,
                                        check=True).stdout)
    return [(link["ifname"], info["local"]) for link in listing for info in link.get("addr_info", [])]


def namespaces() -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


def server_pod() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "netns-web"},
        "spec": {
            "nodeName": LOCAL_NODE,
            "terminationGracePeriodSeconds": 2,
            "containers": [{
                "name": "web",
                "image": "python:3.11-slim",
                "command": ["python", "-m", "http.server", str(PORT), "--bind", "$(POD_IP)"],
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                "readinessProbe": {"httpGet": {"path": "/", "port": PORT}, "periodSeconds": 1},
            }],
        },
    }


def ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status)


def test_pod_ip_answers_inside_the_node_namespace_and_the_host_gains_no_address(
    core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    network = local_node.network
    if network is None:
        pytest.fail("this test needs the netns pod network (root and iproute2)")
    core.create_namespaced_pod(namespace, server_pod())
    # Ready means the agent's httpGet probe, on the host, reached the pod IP.
    pod = wait_for(core.list_namespaced_pod, ready, namespace, field_selector="metadata.name=netns-web")
    pod_ip = pod["status"]["podIP"]
    assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(local_node.config.pod_cidr)

    # The address is the namespace's, and the pod's process runs in that namespace.
    assert pod_ip in network.addresses()
    assert os.stat(f"/proc/{main_pid(pod)}/ns/net").st_ino == os.stat(f"/run/netns/{network.name}").st_ino

    # It answers from the host, which connects from a loopback source, and from inside the namespace.
    assert get(f"http://{pod_ip}:{PORT}/") == 200
    assert netns.in_namespace(network.fd, lambda: get(f"http://{pod_ip}:{PORT}/")) == 200
    assert f"{netns.HOST_SOURCE} - - " in log_of(local_node, pod, "web")

    # Nothing outside 127.0.0.0/8 was added to the host: no pod address anywhere, none on lo,
    # and the node's veth has no address at all (not even an IPv6 link-local one).
    pod_cidr = ipaddress.ip_network(local_node.config.pod_cidr)
    addresses = host_addresses()
    assert [(link, a) for link, a in addresses if ipaddress.ip_address(a) in pod_cidr] == []
    assert [a for link, a in addresses if link == "lo" and not ipaddress.ip_address(a).is_loopback] == []
    assert [a for link, a in addresses if link == network.link] == []


def cordon(core: client.CoreV1Api, node: str) -> None:
    # The scheduler's cache may still hold a node just after its deletion; an unschedulable one
    # never receives the next test's pods.
    core.patch_node(node, {"spec": {"unschedulable": True}})


def test_a_killed_agents_namespace_is_removed_when_the_next_agent_starts(
    control_plane: ControlPlane, core: client.CoreV1Api, tmp_path: Path
) -> None:
    name = "netns-killed-node"
    command = [sys.executable, "-m", "kubetune.localdev.node", "--kubeconfig", str(control_plane.kubeconfig)]
    command += ["--name", name, "--state-dir", str(tmp_path / "first"), "--pod-network", "netns"]
    agent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=(tmp_path / "agent.log").open("wb"), text=True)
    try:
        assert agent.stdout is not None
        banner = agent.stdout.readline()  # printed once the node is up, with its namespace's name
        assert "netns kubetune-pods-" in banner, (tmp_path / "agent.log").read_text()
        left = banner.split("netns ", 1)[1].split(")")[0]
        cordon(core, name)
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=60)
        assert left in namespaces()  # nobody cleaned up: the agent had no chance

        # Another node name, so that even the same index gives another namespace name.
        config = NodeConfig(kubeconfig=control_plane.kubeconfig, name=f"{name}-next", state_dir=tmp_path / "next",
                            pod_network="netns")
        with NodeAgent(config) as following:
            cordon(core, config.name)
            assert following.network is not None and following.network.name in namespaces()
            assert left not in namespaces()
        assert following.network.name not in namespaces()  # a clean stop removes its own
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        for node in (name, f"{name}-next"):
            with contextlib.suppress(ApiException):  # the second one exists only if the test got that far
                core.delete_node(node)

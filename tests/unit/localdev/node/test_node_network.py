"""The pod network's naming and commands, and the loopback forwarder."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from kubetune.localdev.node import ipam, netns
from kubetune.localdev.node.cli import parse_args
from kubetune.localdev.node.forward import LoopbackForwarder


def test_names_fit_the_kernel_limits_and_parse_back() -> None:
    name = netns.namespace_name("gpu_node/with a very long name-2" + "x" * 100, 999)
    assert name.startswith("kubetune-pods-999-gpu-node-with-a-very-long-name-2")
    assert len(name) < 255 and "/" not in name and " " not in name
    assert netns.index_of(name) == 999
    assert len(netns.host_link(netns.MAX_INDEX - 1)) <= 15  # IFNAMSIZ - 1
    assert netns.index_of(netns.host_link(7), netns._HOST_LINK) == 7
    # Other projects' namespaces and links are never taken for ours.
    assert netns.index_of(netns.namespace_name("node-7", 3)) == 3
    # Other namespaces and links are never taken for ours: the real cluster's worker namespaces
    # (kubetune-node-<i>, veth ktn<i>h), CNI's, docker's.
    for other in ("cni-1234", "kubetune-node-1", "kubetune-local-node-1", "kubetune-pods"):
        assert netns.index_of(other) is None
    assert netns.index_of("ktn1h", netns._HOST_LINK) is None
    assert netns.index_of("veth12", netns._HOST_LINK) is None


def test_setup_keeps_127_255_out_of_the_namespace_loopback_and_routes_it_to_the_host() -> None:
    commands = [" ".join(argv) for argv in netns.setup_commands("kubetune-n-3", "ktnode3")]
    assert commands[0] == "ip netns add kubetune-n-3"
    assert "ip link add ktnode3 type veth peer name eth0 netns kubetune-n-3" in commands
    assert "ip -n kubetune-n-3 addr add 127.0.0.1/9 dev lo" in commands
    assert "ip -n kubetune-n-3 route add 127.255.0.1/32 dev eth0" in commands
    # Nothing here gives the host an address: the only host-side commands create and raise the veth.
    host_side = [c for c in commands if not c.startswith("ip -n ")]
    assert not any(" addr " in c for c in host_side)
    assert netns.HOST_SOURCE.startswith("127.") and not netns.HOST_SOURCE.startswith("127.0.")


def test_a_pod_address_goes_into_the_namespace_and_the_host_only_routes_to_it() -> None:
    add = [" ".join(argv) for argv in netns.add_commands("kubetune-n-3", "ktnode3", "10.244.1.7")]
    assert add == [
        "ip -n kubetune-n-3 addr add 10.244.1.7/32 dev lo",
        "ip route replace 10.244.1.7/32 dev ktnode3 src 127.255.0.1",
    ]
    remove = [" ".join(argv) for argv in netns.remove_commands("kubetune-n-3", "ktnode3", "10.244.1.7")]
    assert remove == ["ip route del 10.244.1.7/32 dev ktnode3", "ip -n kubetune-n-3 addr del 10.244.1.7/32 dev lo"]


def test_network_mode_and_the_host_port_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ipam.network_mode("loopback") == "loopback"
    with pytest.raises(ValueError, match="'auto', 'netns' or 'loopback'"):
        ipam.network_mode("alias")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert ipam.network_mode("auto") == "loopback"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/sbin/{name}")
    assert ipam.network_mode("auto") == "netns"
    config = parse_args(["--kubeconfig", "k", "--pod-network", "netns", "--host-port", "9000", "--host-port", "9001"])
    assert config.pod_network == "netns" and config.host_ports == (9000, 9001)
    with pytest.raises(SystemExit):
        parse_args(["--kubeconfig", "k", "--pod-network", "alias"])  # pod IPs on the host's lo are gone


class Recorder:
    """A TCP server that answers each line with its upper-cased copy, then half-closes."""

    def __init__(self, host: str) -> None:
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
                conn.sendall(data.upper())


@pytest.fixture
def own_namespace() -> Iterator[int]:
    # setns() needs CAP_SYS_ADMIN even into the namespace a process is already in.
    if os.geteuid() != 0:
        pytest.skip("setns needs root")
    fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    yield fd
    os.close(fd)


def test_forwarder_copies_both_ways_with_half_close_and_stops(own_namespace: int) -> None:
    # The upstream on 127.0.0.2 and the forwarder on 127.0.0.1, same port: as the API server on the
    # host's loopback and the forwarder in the pod namespace's.
    upstream = Recorder("127.0.0.2")
    forwarder = LoopbackForwarder(own_namespace, [upstream.port], target_host="127.0.0.2").start()
    try:
        payload = b"status update\n" * 20000  # larger than one buffer
        with socket.create_connection(("127.0.0.1", upstream.port), timeout=10) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)  # the server answers only after our end of stream
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        assert received == payload.upper()
    finally:
        forwarder.stop()
        upstream.listener.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", upstream.port), timeout=2).close()

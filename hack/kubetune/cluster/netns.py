"""The worker node's network namespace: a veth pair, the node address inside, nothing routed out.

Only the node's own /30 and its pod subnet are routed between host and namespace, so pods can reach
the node (and through the node's relay, the API server) and the host can reach pods, but nothing in
the namespace can reach an address outside this machine.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


@dataclass(frozen=True)
class NodeNetwork:
    """Addresses of worker `index` (1-based): link 10.213.<index>.0/30, pods 10.245.<index>.0/24."""

    index: int

    @property
    def name(self) -> str:
        return f"kubetune-node-{self.index}"

    @property
    def host_veth(self) -> str:
        return f"ktn{self.index}h"  # interface names must stay under 16 characters

    @property
    def host_address(self) -> str:
        return f"10.213.{self.index}.1"

    @property
    def node_address(self) -> str:
        return f"10.213.{self.index}.2"

    @property
    def pod_subnet(self) -> str:
        return f"10.245.{self.index}.0/24"

    @property
    def pod_gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.pod_subnet).hosts()))

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name

    def exec_prefix(self) -> list[str]:
        """argv prefix that runs a command inside the namespace; nsenter execs, so the pid is the command's.

        Not `ip netns exec`: that also gives the command a mount namespace of its own, and then
        the volumes the kubelet mounts (secrets, tokens) would be invisible to containerd.
        """
        return ["nsenter", f"--net={self.path}"]

    def create(self) -> None:
        self.delete()
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.host_veth, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_veth)
        run("ip", "link", "set", self.host_veth, "up")
        inside = self.exec_prefix()
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "addr", "add", f"{self.node_address}/30", "dev", "eth0")
        run(*inside, "ip", "link", "set", "eth0", "up")
        # The bridge gateway forwards between pods and the node's own addresses.
        run(*inside, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # The host reaches this node's pods (and nothing else) through it: the API server proxies
        # aggregated APIs (metrics-server) to pod addresses.
        run("ip", "route", "replace", self.pod_subnet, "via", self.node_address, "dev", self.host_veth)

    def delete(self) -> None:
        # Deleting the namespace destroys eth0 and with it the host end of the veth.
        run("ip", "link", "del", self.host_veth, check=False)
        run("ip", "netns", "del", self.name, check=False)

    def exists(self) -> bool:
        return self.path.exists()

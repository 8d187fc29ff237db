"""Pod IPs: one address per pod, unique across every agent on the machine.

Each address in use is held by an flock on a file in a shared directory, so
two agents (two test sessions) never hand out the same one, and the lock goes
away with the agent even when it is killed. In "netns" mode the address is
also added inside the node's pod network namespace, with a host route to it
(netns.PodNetwork), so that a non-loopback pod IP (which EndpointSlices
accept) answers from this host without being an address of the host.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from kubetune.localdev.node.netns import PodNetwork

log = logging.getLogger(__name__)


def network_mode(requested: str) -> str:
    """'auto' -> 'netns' where the agent can create network namespaces (root with iproute2), else 'loopback'."""
    if requested in ("netns", "loopback"):
        return requested
    if requested != "auto":
        # "alias" (pod IPs on the host's lo) is gone: the host must not take pod addresses.
        raise ValueError(f"pod network {requested!r}: use 'auto', 'netns' or 'loopback'")
    return "netns" if os.geteuid() == 0 and shutil.which("ip") else "loopback"


def candidates(cidr: str) -> Iterator[str]:
    """Usable host addresses, skipping x.x.0.* (127.0.0.1 and friends) and .0/.255 octets."""
    for address in ipaddress.ip_network(cidr).hosts():
        octets = address.packed
        if octets[2] == 0 or octets[3] in (0, 255):
            continue
        yield str(address)


def aliases_in(listing: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    """The /32 addresses inside `network` in `ip -o addr show` output."""
    found = []
    for line in listing.splitlines():
        fields = line.split()
        if "inet" not in fields:
            continue
        address, _, prefix = fields[fields.index("inet") + 1].partition("/")
        if prefix == "32" and ipaddress.ip_address(address) in network:
            found.append(address)
    return found


class PodIPAllocator:
    def __init__(self, mode: str, cidr: str, lock_dir: Path) -> None:
        self.mode = mode
        self.cidr = cidr
        self.lock_dir = lock_dir
        self._held: dict[str, tuple[int, str]] = {}  # address -> (lock file descriptor, owner)
        self.network: PodNetwork | None = None  # set by the agent in "netns" mode, once the namespace exists
        self._mutex = threading.Lock()

    def _try_lock(self, address: str, owner: str) -> bool:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.lock_dir / address, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._held[address] = (descriptor, owner)
        return True

    def allocate(self, owner: str, preferred: str | None = None) -> str:
        """A free address for `owner` (a pod UID); the preferred one when free: pod IPs never change."""
        with self._mutex:
            options = [preferred] if preferred else []
            for address in [*options, *candidates(self.cidr)]:
                if address in self._held or not self._try_lock(address, owner):
                    continue
                if self.network is not None:
                    try:
                        # We hold the lock, so a /32 of this address on the host's lo is stale (an
                        # agent from before the netns network, killed after we started); as a
                        # local address it would take the traffic meant for the pod.
                        self._del_lo_alias(address)
                        self.network.add(address)
                    except Exception:
                        os.close(self._held.pop(address)[0])
                        raise
                return address
        raise RuntimeError(f"no free pod IP left in {self.cidr}")

    def release(self, address: str, owner: str) -> None:
        """Give the address back, if `owner` still holds it (it may have passed to another pod)."""
        with self._mutex:
            held = self._held.get(address)
            if held is None or held[1] != owner:
                return
            descriptor = self._held.pop(address)[0]
            if self.network is not None:
                self.network.remove(address)
            os.close(descriptor)  # closing releases the flock

    def release_all(self) -> None:
        for address, (_, owner) in list(self._held.items()):
            self.release(address, owner)

    def sweep_stale(self) -> list[str]:
        """Remove pod-CIDR /32 aliases on the host's lo that no agent holds.

        Agents before the netns pod network put pod IPs on lo; one killed
        would leave them there, and a local address on the host would hide
        the route into our namespace.
        """
        if self.mode != "netns":
            return []
        listing = subprocess.run(
            ["ip", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=False
        ).stdout
        network = ipaddress.ip_network(self.cidr)
        removed = []
        for address in aliases_in(listing, network):
            with self._mutex:
                if address in self._held or not self._try_lock(address, "sweep"):
                    continue
                self._del_lo_alias(address)
                os.close(self._held.pop(address)[0])
            removed.append(address)
        return removed

    @staticmethod
    def _del_lo_alias(address: str) -> None:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True, check=False)

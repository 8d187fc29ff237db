"""The node's pod network: a network namespace the agent creates, with every pod IP inside it.

    host network namespace                       kubetune-pods-<N>-<node>
    ktnode<N>  (veth, no address at all)  <--->  eth0 (veth, no address either)
    route <pod IP>/32 dev ktnode<N>              route 127.255.0.1/32 dev eth0
          src 127.255.0.1                        lo: 127.0.0.1/9 and each pod IP as a /32

Nothing is added to the host's interfaces except the veth itself, which has
no address: the host reaches a pod through a /32 route with the *loopback*
source 127.255.0.1 (local through the host's 127.0.0.0/8), so the replies go
back into the veth, never to one of the host's real addresses.
`route_localnet` (on our two veth ends only) lets loopback-sourced packets
cross them. Inside the namespace, lo keeps 127.0.0.0/9 (127.0.0.1, 127.0.1.1,
...) and 127.255.0.1 routes to the host through eth0 (eth0 answers ARP for the
pod IPs on lo). The pod IPs are on lo, not eth0, because removing the last
address of a device flushes every route through it: the route to the host
would vanish with the last pod. 127.255.0.1 is the only host address a pod
can reach, and what it reaches there are the ports forwarded into the
namespace (see forward.py), not the host's own loopback services.

N is the node's network index, held by an flock in `<lock dir>/netns/<N>` for
the agent's lifetime; a namespace or veth whose index nobody holds was left by
a killed agent and is removed by name at the next start.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

HOST_SOURCE = "127.255.0.1"  # the host's address as pods see it (loopback, so local on the host)
POD_LINK = "eth0"
ADDRESS_LINK = "lo"  # where pod IPs go inside the namespace (see the module docstring)
NAMESPACE_LOOPBACK = "127.0.0.1/9"  # 127.255.0.0/16 stays outside, routed to the host
MAX_INDEX = 1000
# "pods" keeps our names apart from other kubetune namespaces (the real cluster's kubetune-node-<i>),
# which the stale sweep must never touch.
_NAME = re.compile(r"^kubetune-pods-(\d+)(?:-|$)")
_HOST_LINK = re.compile(r"^ktnode(\d+)$")
_CLONE_NEWNET = 0x40000000
_NETNS_DIR = Path("/run/netns")

T = TypeVar("T")


class NetworkError(RuntimeError):
    """An `ip` command failed while building or changing the pod network."""


def namespace_name(node: str, index: int) -> str:
    # The index makes the name unique (two test sessions may both run a node called local-node);
    # the node name keeps it recognisable in `ip netns list`.
    safe = re.sub(r"[^a-zA-Z0-9.-]", "-", node)[:40]
    return f"kubetune-pods-{index}-{safe}"


def host_link(index: int) -> str:
    return f"ktnode{index}"  # at most 15 characters, the kernel's limit for interface names


def index_of(name: str, pattern: re.Pattern[str] = _NAME) -> int | None:
    match = pattern.match(name)
    return int(match.group(1)) if match else None


def setup_commands(name: str, link: str) -> list[list[str]]:
    """The `ip` commands that build the namespace and its veth (sysctls are written separately)."""
    inside = ["ip", "-n", name]
    return [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", link, "type", "veth", "peer", "name", POD_LINK, "netns", name],
        [*inside, "link", "set", "lo", "up"],
        # lo came up with 127.0.0.1/8; a /9 leaves 127.255.0.1 free to mean the host.
        [*inside, "addr", "del", "127.0.0.1/8", "dev", "lo"],
        [*inside, "addr", "add", NAMESPACE_LOOPBACK, "dev", "lo"],
        [*inside, "link", "set", POD_LINK, "up"],
        [*inside, "route", "add", f"{HOST_SOURCE}/32", "dev", POD_LINK],
        ["ip", "link", "set", link, "up"],
    ]


def add_commands(name: str, link: str, address: str) -> list[list[str]]:
    return [
        ["ip", "-n", name, "addr", "add", f"{address}/32", "dev", ADDRESS_LINK],
        ["ip", "route", "replace", f"{address}/32", "dev", link, "src", HOST_SOURCE],
    ]


def remove_commands(name: str, link: str, address: str) -> list[list[str]]:
    return [
        ["ip", "route", "del", f"{address}/32", "dev", link],
        ["ip", "-n", name, "addr", "del", f"{address}/32", "dev", ADDRESS_LINK],
    ]


def _ip(argv: list[str], check: bool = True) -> bool:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result.returncode == 0


def setns(fd: int) -> None:
    """Move the calling thread (or a child between fork and exec) into the network namespace `fd`."""
    if ctypes.CDLL(None, use_errno=True).setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def in_namespace(fd: int, work: Callable[[], T]) -> T:
    """Run `work` in the namespace: in a fresh thread, since setns moves only the calling thread."""
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            setns(fd)
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=run, name="netns-enter", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome["value"]


def _write_sysctl(path: str, value: str) -> None:
    target = Path("/proc/sys/net") / path
    if target.exists():  # ipv6 settings are absent where IPv6 is disabled
        target.write_text(value)


def _try_lock(lock_dir: Path, index: int) -> int | None:
    lock_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_dir / str(index), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _namespaces() -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


def _host_links() -> list[str]:
    listing = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in listing.splitlines() if line.count(":") >= 2]


def _remove(namespaces: Iterable[str], links: Iterable[str]) -> None:
    for link in links:
        _ip(["ip", "link", "del", link], check=False)  # takes its peer, and the host routes through it
    for name in namespaces:
        _ip(["ip", "netns", "del", name], check=False)


def sweep_stale(lock_dir: Path) -> list[str]:
    """Remove the namespaces and veths of indexes no agent holds (left by killed agents)."""
    names = [name for name in _namespaces() if index_of(name) is not None]
    links = [link for link in _host_links() if index_of(link, _HOST_LINK) is not None]
    indexes = {index_of(name) for name in names} | {index_of(link, _HOST_LINK) for link in links}
    removed = []
    for index in sorted(i for i in indexes if i is not None):
        descriptor = _try_lock(lock_dir / "netns", index)
        if descriptor is None:
            continue  # a live agent's network
        try:
            stale_names = [name for name in names if index_of(name) == index]
            stale_links = [link for link in links if index_of(link, _HOST_LINK) == index]
            _remove(stale_names, stale_links)
            removed += stale_names + stale_links
        finally:
            os.close(descriptor)
    return removed


class PodNetwork:
    """One node's namespace: create(), add()/remove() pod addresses, close()."""

    def __init__(self, name: str, index: int, lock: int) -> None:
        self.name = name
        self.index = index
        self.link = host_link(index)
        self._lock = lock
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @classmethod
    def create(cls, node: str, lock_dir: Path) -> PodNetwork:
        for index in range(MAX_INDEX):
            lock = _try_lock(lock_dir / "netns", index)
            if lock is not None:
                break
        else:
            raise NetworkError(f"all {MAX_INDEX} pod network indexes are in use")
        network = cls(namespace_name(node, index), index, lock)
        try:
            network._build()
        except BaseException:
            network.close()
            raise
        return network

    def _build(self) -> None:
        # Leftovers of a killed agent that had our index: we hold the lock now, so they are stale.
        _remove([name for name in _namespaces() if index_of(name) == self.index], [self.link])
        commands = setup_commands(self.name, self.link)
        for argv in commands[:2]:
            _ip(argv)
        # Before the link comes up, so that the kernel never gives it an IPv6 link-local address.
        _write_sysctl(f"ipv6/conf/{self.link}/disable_ipv6", "1")
        _write_sysctl(f"ipv4/conf/{self.link}/route_localnet", "1")
        self._fd = os.open(_NETNS_DIR / self.name, os.O_RDONLY | os.O_CLOEXEC)
        in_namespace(self._fd, lambda: _write_sysctl(f"ipv4/conf/{POD_LINK}/route_localnet", "1"))
        for argv in commands[2:]:
            _ip(argv)

    @property
    def fd(self) -> int:
        """An open descriptor of the namespace, for setns() (children, exec probes, the forwarder)."""
        if self._fd is None:
            raise NetworkError(f"pod network {self.name} is closed")
        return self._fd

    def add(self, address: str) -> None:
        with self._mutex:
            for argv in add_commands(self.name, self.link, address):
                _ip(argv)

    def remove(self, address: str) -> None:
        with self._mutex:
            for argv in remove_commands(self.name, self.link, address):
                _ip(argv, check=False)

    def addresses(self) -> list[str]:
        listing = subprocess.run(
            ["ip", "-n", self.name, "-4", "-o", "addr", "show", "dev", ADDRESS_LINK],
            capture_output=True, text=True, check=False,
        ).stdout
        found = [line.split()[3].split("/")[0] for line in listing.splitlines() if " inet " in line]
        return [address for address in found if not address.startswith("127.")]

    def close(self) -> None:
        """Delete the veth (with its routes) and the namespace, then give the index back."""
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._lock < 0:
                return
            _remove([self.name], [self.link])
            os.close(self._lock)
            self._lock = -1

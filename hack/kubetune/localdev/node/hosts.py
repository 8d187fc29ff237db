"""Pod DNS names on the local node: a hosts file that pods with a subdomain see as their /etc/hosts.

On a cluster, DNS answers `<hostname>.<subdomain>.<namespace>.svc.<domain>` for the pods behind a
headless Service (a multi-node Training's pods find node 0 that way). The local node has no cluster
DNS and its pods are host processes, so the agent keeps one hosts file: the machine's /etc/hosts
plus a line per pod of this node that has spec.hostname and spec.subdomain, rewritten in place as
such pods get and give back addresses. The containers of such a pod run in their own mount
namespace where podinit bind-mounts this file over /etc/hosts, as the kubelet mounts the hosts
file it manages. glibc reads /etc/hosts at every lookup, so a peer that gets its address after
this pod started resolves as soon as it has one (torch's store client retries until then).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CLUSTER_DOMAIN = "cluster.local"
SYSTEM_HOSTS = Path("/etc/hosts")


def pod_names(pod: Mapping[str, Any], domain: str = CLUSTER_DOMAIN) -> list[str]:
    """The names a pod with a hostname and a subdomain answers to, longest first; none otherwise."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    hostname, subdomain = spec.get("hostname"), spec.get("subdomain")
    if not hostname or not subdomain:
        return []
    fqdn = f"{hostname}.{subdomain}.{meta.get('namespace', 'default')}.svc"
    return [f"{fqdn}.{domain}", fqdn, f"{hostname}.{subdomain}.{meta.get('namespace', 'default')}",
            f"{hostname}.{subdomain}"]


def wants_hosts(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("subdomain")) and not (pod.get("spec") or {}).get("hostNetwork")


class HostsTable:
    """The node's hosts file: add() and remove() a pod's names; every change rewrites the file in place."""

    def __init__(self, path: Path, system: Path = SYSTEM_HOSTS) -> None:
        self.path = path
        self.system = system
        self._entries: dict[str, tuple[str, list[str]]] = {}  # pod uid -> (address, names)
        self._lock = threading.Lock()
        self._write()

    def add(self, uid: str, address: str, names: list[str]) -> None:
        if not names:
            return
        with self._lock:
            self._entries[uid] = (address, names)
            self._write()

    def remove(self, uid: str) -> None:
        with self._lock:
            if self._entries.pop(uid, None) is not None:
                self._write()

    def render(self) -> str:
        try:
            base = self.system.read_text()
        except OSError:
            base = "127.0.0.1\tlocalhost\n"
        lines = [f"{address}\t{' '.join(names)}" for address, names in sorted(self._entries.values())]
        return base.rstrip("\n") + "\n# kubetune local node: pods with a hostname and subdomain\n" + "\n".join(
            lines) + "\n"

    def _write(self) -> None:
        # In place (same inode): a bind mount of this file sees the new content; a rename would not.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(self.render())

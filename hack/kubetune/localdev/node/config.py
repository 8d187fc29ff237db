"""Configuration of the local node agent."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# What a pod's process inherits from the agent's environment. The process runs
# in the host's Python environment, so it needs the interpreter's search paths
# and the offline switches of the ML libraries; everything else comes from the
# pod spec, as it would from an image.
DEFAULT_INHERITED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "CUDA_VISIBLE_DEVICES",
)


def _default_state_dir() -> Path:
    return Path(tempfile.gettempdir()) / "kubetune-node"


@dataclass(frozen=True)
class KubeletTLS:
    """How the node serves the kubelet API (container logs): its serving certificate and key, and
    the CA and user names (certificate CN) of the clients it accepts, as kubelet's --tls-cert-file,
    --tls-private-key-file and --client-ca-file. Only the API server is meant to be among them."""

    cert: Path
    key: Path
    client_ca: Path
    client_users: tuple[str, ...]


@dataclass(frozen=True)
class NodeConfig:
    """Everything the agent needs; `kubetune-node` builds one from its flags."""

    kubeconfig: Path
    name: str = "local-node"
    state_dir: Path = field(default_factory=_default_state_dir)
    # Persistent volumes live here, one directory per namespace/claim, so that
    # data outlives the pods that wrote it.
    data_root: Path | None = None
    # The StorageClass whose claims this agent provisions as local directories
    # (None: no provisioning), and whether it is the cluster's default class.
    storage_class: str | None = "kubetune-local"
    default_storage_class: bool = True
    gpus: int = 0
    gpu_product: str = "kubetune-fake-gpu"
    cpu: int = field(default_factory=lambda: os.cpu_count() or 1)
    memory_bytes: int | None = None  # None: the host's total memory
    max_pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)
    # "loopback": pod IPs from 127.0.0.0/8 (needs no privilege; EndpointSlices
    # reject loopback addresses, so Services list no endpoints). "netns": pod
    # IPs from pod_cidr inside a network namespace the agent creates, with a
    # veth and host routes to them (needs CAP_NET_ADMIN and CAP_SYS_ADMIN; see
    # netns.py). "auto": netns when running as root, loopback otherwise.
    pod_network: str = "auto"
    pod_cidr: str = "10.244.0.0/16"
    loopback_cidr: str = "127.0.0.0/16"
    # Host loopback ports that pods in the netns reach at 127.0.0.1:<port>
    # (the API server's port is always among them; see forward.py).
    host_ports: tuple[int, ...] = ()
    # Absolute mount paths under these prefixes are also symlinked on the host
    # (e.g. "/etc/kubetune"); empty means never touch host paths.
    mount_allowlist: tuple[str, ...] = ()
    # Each container in its own PID namespace, so that even a SIGKILLed agent
    # leaves no process behind: "auto" (when root), "on" or "off".
    pid_namespaces: str = "auto"
    inherited_env: tuple[str, ...] = DEFAULT_INHERITED_ENV
    heartbeat_seconds: float = 10.0
    lease_seconds: int = 40
    sync_seconds: float = 0.5  # how often a pod worker checks its processes
    restart_backoff_seconds: float = 10.0  # first restart delay; doubles up to the cap
    restart_backoff_cap_seconds: float = 300.0
    # None: no kubelet API (the node advertises port 0 and pods/log fails, as before); else the
    # node serves containerLogs on a free 127.0.0.1 port (see kubeletapi.py).
    kubelet_tls: KubeletTLS | None = None
    # Where pod IP lock files live: shared by every agent on the machine, so
    # two agents never hand out the same address.
    ipam_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "kubetune-ipam")

    @property
    def pods_dir(self) -> Path:
        return self.state_dir / "pods"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def volumes_root(self) -> Path:
        return self.data_root if self.data_root is not None else self.state_dir / "data"

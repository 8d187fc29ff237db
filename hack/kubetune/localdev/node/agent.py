"""NodeAgent: registration, heartbeats, the pod watch and one worker per pod.

    with NodeAgent(NodeConfig(kubeconfig=path, name="local-node", gpus=2)) as agent:
        ...  # pods bound to "local-node" now run as host processes

stop() (also on leaving the `with`, at interpreter exit, and from the CLI on
SIGTERM/SIGINT) stops every pod's processes with its grace period and leaves
none behind.
"""

from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from kubetune.localdev.node import ipam, netns, registration, runtime
from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.node.forward import LoopbackForwarder
from kubetune.localdev.node.heartbeat import Heartbeat
from kubetune.localdev.node.hosts import HostsTable
from kubetune.localdev.node.kube import Kube, api_client, server_address
from kubetune.localdev.node.kubeletapi import KubeletAPI
from kubetune.localdev.node.podwatch import Watcher, pod_watcher
from kubetune.localdev.node.podworker import PodWorker, is_terminal
from kubetune.localdev.node.sandbox import NodeContext
from kubetune.localdev.node.storage import Provisioner

log = logging.getLogger(__name__)

SYNC_TIMEOUT_SECONDS = 30


class NodeAgent:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.api = api_client(config.kubeconfig)
        self.kube = Kube(self.api)
        mode = ipam.network_mode(config.pod_network)
        cidr = config.pod_cidr if mode == "netns" else config.loopback_cidr
        self.allocator = ipam.PodIPAllocator(mode, cidr, config.ipam_dir)
        self.network: netns.PodNetwork | None = None
        self._forwarder: LoopbackForwarder | None = None
        host, port = server_address(self.api)
        isolate = config.pid_namespaces == "on" or (config.pid_namespaces == "auto" and runtime.can_isolate())
        self.ctx = NodeContext(config, self.kube, registration.HOST_IP, host, port, isolate)
        self.workers: dict[str, PodWorker] = {}
        self._lock = threading.Lock()
        self._heartbeat: Heartbeat | None = None
        self._watcher: Watcher | None = None
        self._provisioner: Provisioner | None = None
        self.kubelet_api: KubeletAPI | None = None
        self._stopped = False

    @property
    def network_mode(self) -> str:
        return self.allocator.mode

    @property
    def network_description(self) -> str:
        """'loopback', or 'netns <namespace name>' once the pod network exists."""
        return self.allocator.mode if self.network is None else f"netns {self.network.name}"

    def start(self) -> NodeAgent:
        """Register the node and start serving its pods; on failure, undo what was started."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> NodeAgent:
        for directory in (self.config.pods_dir, self.config.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        if self.allocator.mode == "netns":
            self._start_network()
        kubelet_port = 0
        if self.config.kubelet_tls is not None:
            self.kubelet_api = KubeletAPI(self.config.kubelet_tls, self.config.logs_dir, self.pod_uid, self.log_live)
            kubelet_port = self.kubelet_api.start(registration.HOST_IP)
        node = registration.register(self.kube, self.config, kubelet_port)
        self._heartbeat = Heartbeat(
            self.kube,
            self.config.name,
            node["metadata"]["uid"],
            self.config.heartbeat_seconds,
            self.config.lease_seconds,
        )
        self._heartbeat.start()
        if self.config.storage_class:
            self._provisioner = Provisioner(
                self.kube, self.config.storage_class, self.config.volumes_root, self.config.default_storage_class
            )
            self._provisioner.start()
        self._watcher = pod_watcher(self.kube, self.config.name, self._on_pod_event)
        self._watcher.start()
        atexit.register(self.stop)
        if not self._watcher.synced.wait(SYNC_TIMEOUT_SECONDS):
            log.warning("first pod list of node %s took over %ss", self.config.name, SYNC_TIMEOUT_SECONDS)
        log.info(
            "node %s up (pod network: %s, PID namespaces: %s)",
            self.config.name,
            self.network_description,
            self.ctx.isolate_pids,
        )
        return self

    def _start_network(self) -> None:
        """The pods' namespace, and the API server (plus host_ports) reachable from it on 127.0.0.1."""
        lock_dir = self.config.ipam_dir
        stale = netns.sweep_stale(lock_dir) + self.allocator.sweep_stale()
        if stale:
            log.info("removed what earlier agents left of their pod networks: %s", ", ".join(stale))
        self.network = netns.PodNetwork.create(self.config.name, lock_dir)
        self.allocator.network = self.network
        self.ctx.netns_fd = self.network.fd
        if self.ctx.isolate_pids:  # podinit, in the container's own mount namespace, mounts it as /etc/hosts
            self.ctx.hosts = HostsTable(self.config.state_dir / "hosts")
        ports = {self.ctx.api_port, *self.config.host_ports}
        self._forwarder = LoopbackForwarder(self.network.fd, ports).start()

    def stop(self) -> None:
        """Stop watching, stop every pod's processes (with grace), mark the node not ready."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            workers = list(self.workers.values())
        if self._watcher is not None:
            self._watcher.stop()
        if self._provisioner is not None:
            self._provisioner.stop()
        for worker in workers:
            worker.shutdown()
        for worker in workers:
            worker.thread.join()
        if self._heartbeat is not None:
            self._heartbeat.stop(mark_not_ready=True)
        if self.kubelet_api is not None:
            self.kubelet_api.stop()
        self.allocator.release_all()
        if self._forwarder is not None:
            self._forwarder.stop()
        if self.network is not None:
            self.network.close()
        atexit.unregister(self.stop)
        self.api.close()
        log.info("node %s stopped", self.config.name)

    def __enter__(self) -> NodeAgent:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def processes(self) -> list[int]:
        """PIDs of the containers' main processes now running (for tests and diagnostics)."""
        with self._lock:
            workers = list(self.workers.values())
        return [current.process.pid for worker in workers for current in list(worker.running.values())]

    def pod_uid(self, namespace: str, name: str) -> str | None:
        """The uid of the pod this node runs as namespace/name (the kubelet API's pod lookup)."""
        with self._lock:
            workers = list(self.workers.values())
        for worker in workers:
            meta = worker.pod["metadata"]
            if meta["namespace"] == namespace and meta["name"] == name:
                return str(meta["uid"])
        return None

    def log_live(self, path: Path) -> bool:
        """Whether a container run still writes to this log file (a followed log ends when it stops)."""
        with self._lock:
            workers = list(self.workers.values())
        return any(current.process.log_path == path for worker in workers for current in list(worker.running.values()))

    def _on_pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        with self._lock:
            if self._stopped:
                return
            worker = self.workers.get(uid)
            if worker is not None and not worker.alive:
                del self.workers[uid]
                worker = None
            if kind == "DELETED":
                if worker is not None:
                    worker.removed()
                return
            if worker is None:
                if is_terminal(pod) and not pod["metadata"].get("deletionTimestamp"):
                    return  # finished before we saw it: nothing to run; deletion is the API's business
                worker = PodWorker(self.ctx, self.allocator, pod)
                self.workers[uid] = worker
                worker.update(pod)
                worker.start()
                return
        worker.update(pod)

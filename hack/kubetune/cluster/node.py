"""One worker node: containerd, kubelet, kube-proxy and the API server relay, all inside the
node's network namespace, as children that die with the process that started them."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubetune.cluster import configs, images
from kubetune.cluster.configs import NodePaths
from kubetune.cluster.controlplane import ClusterControlPlane
from kubetune.cluster.netns import NodeNetwork
from kubetune.localdev import processes

TOOLBOX_BINARY = Path("/bin/busybox")


class NodeError(RuntimeError):
    """A node component failed; the message carries its log tail."""


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class WorkerNode:
    cp: ClusterControlPlane
    bin_dir: Path
    net: NodeNetwork
    paths: NodePaths
    keda_dir: Path | None = None  # hack/keda/build.sh's output: KEDA's two images go onto the node too
    image_refs: dict[str, str] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"kubetune-worker-{self.net.index}"

    # ---- lifecycle -------------------------------------------------------------

    def start(self, extra_images: list[Path]) -> None:
        # A node starts empty: nothing left by a previous run that was killed, no records of its
        # containers, sandboxes or addresses.
        release_host_state(self.net, self.paths)
        shutil.rmtree(self.paths.root, ignore_errors=True)
        self.paths.root.mkdir(parents=True)
        self.paths.resolv_conf.write_text("")  # pods with dnsPolicy Default resolve nothing outside
        self.net.create()
        self.image_refs, archives = self._prepare_images()
        self._start_containerd(self.image_refs["pause"])
        for archive in [*archives, *extra_images]:
            images.import_archive(self.paths.containerd_socket, archive)
        self._start_relay()
        self._start_kubelet()
        self._start_kube_proxy()

    def stop(self) -> None:
        """kubelet first (no restarts), then every container, then containerd and its shims."""
        for name in ("kube-proxy", "kubelet", "relay-pods", "relay-node"):
            if name in self._procs:
                processes.stop(self._procs.pop(name), grace_seconds=10)
        self._remove_containers()
        if "containerd" in self._procs:
            processes.stop(self._procs.pop("containerd"), grace_seconds=10)
        release_host_state(self.net, self.paths)

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self._procs.items()}

    # ---- components ------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._procs[name] = processes.spawn([*self.net.exec_prefix(), *argv], self.paths.log_dir / f"{name}.log")

    def _prepare_images(self) -> tuple[dict[str, str], list[Path]]:
        """The sandbox, CoreDNS, metrics-server and toolbox images, written as OCI archives;
        (references by role, archives)."""
        refs: dict[str, str] = {}
        archives: list[Path] = []
        specs = {
            "pause": images.BinaryImage("pause", self.bin_dir / "pause", ["/pause"]),
            "coredns": images.BinaryImage("coredns", self.bin_dir / "coredns", ["/coredns"],
                                          extra_dirs=["etc", "etc/coredns"]),
            "metrics-server": images.BinaryImage("metrics-server", self.bin_dir / "metrics-server",
                                                 ["/metrics-server"]),
            # A shell, nslookup and wget for tests and debugging (Debian's static busybox).
            "toolbox": images.BinaryImage("toolbox", TOOLBOX_BINARY, ["/busybox"]),
        }
        if self.keda_dir is not None:
            for name in ("keda-operator", "keda-adapter"):
                specs[name] = images.BinaryImage(name, self.keda_dir / name, [f"/{name}"])
        for key, spec in specs.items():
            reference, data = images.oci_archive(spec)
            archive = self.paths.root / "images" / f"{key}.tar"
            archive.parent.mkdir(parents=True, exist_ok=True)
            archive.write_bytes(data)
            refs[key] = reference
            archives.append(archive)
        return refs, archives

    def _start_containerd(self, sandbox_image: str) -> None:
        self.paths.containerd_config.write_text(configs.containerd_toml(self.paths, sandbox_image))
        configs.write_json(self.paths.cni_conf_dir / "10-kubetune.conflist", configs.cni_conflist(self.net, self.paths))
        self._spawn("containerd", ["containerd", "--config", str(self.paths.containerd_config)])
        self._wait(lambda: subprocess.run(
            ["ctr", "--address", str(self.paths.containerd_socket), "version"],
            capture_output=True).returncode == 0, "containerd", 60)

    def _start_relay(self) -> None:
        """Forward connections from inside the node's namespace to the API server on the host's
        loopback: socat listens in the namespace and, for each connection, re-enters the host's
        network namespace (the one this process runs in) to connect.

        Two listeners: the API server's own address, 127.0.0.1:<port>, inside the namespace, so the
        kubelet and kube-proxy use the same URL (and certificate name) as everything on the host;
        and the node's address, port 6443, the `kubernetes` Service's endpoint, for pods."""
        port = self.cp.server.rsplit(":", 1)[1]
        forward = self.paths.root / "relay-forward.sh"
        host_netns = f"/proc/{os.getpid()}/ns/net"
        forward.write_text(f"#!/bin/sh\nexec nsenter --net={host_netns} socat STDIO TCP:127.0.0.1:{port}\n")
        forward.chmod(0o755)
        for name, address, listen_port in (("relay-pods", self.net.node_address, configs.API_RELAY_PORT),
                                           ("relay-node", "127.0.0.1", int(port))):
            listen = f"TCP-LISTEN:{listen_port},bind={address},fork,reuseaddr"
            self._spawn(name, ["socat", listen, f"EXEC:{forward}"])

    def _start_kubelet(self) -> None:
        cert, key = self.cp.node_identity(self.name)
        kubeconfig = self.cp.cert_kubeconfig(f"kubelet-{self.name}", cert, key)
        config = configs.kubelet_config(self.paths, self.net, self.cp.ca_file)
        self.paths.kubelet_config.write_text(yaml.safe_dump(config))
        self._spawn("kubelet", [
            str(self.bin_dir / "kubelet"),
            f"--config={self.paths.kubelet_config}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={self.paths.kubelet_dir}",
            f"--cert-dir={self.paths.root / 'kubelet-pki'}",
            f"--hostname-override={self.name}",
            f"--node-ip={self.net.node_address}",
            "--v=1",
        ])

    def _start_kube_proxy(self) -> None:
        cert, key = self.cp.identities["kube-proxy"]
        kubeconfig = self.cp.cert_kubeconfig("kube-proxy", cert, key)
        config = configs.kube_proxy_config(self.net, kubeconfig, self.name)
        self.paths.kube_proxy_config.write_text(yaml.safe_dump(config))
        self._spawn("kube-proxy", [str(self.bin_dir / "kube-proxy"), f"--config={self.paths.kube_proxy_config}",
                                   "--v=1"])

    def _wait(self, ready: Callable[[], bool], component: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            proc = self._procs.get(component)
            if proc is not None and proc.poll() is not None:
                raise NodeError(f"{component} exited:\n{_tail(self.paths.log_dir / f'{component}.log')}")
            time.sleep(0.2)  # polling a process we just started; there is nothing to watch yet
        raise NodeError(f"{component} not ready after {timeout}s:\n{_tail(self.paths.log_dir / f'{component}.log')}")

    # ---- teardown ----------------------------------------------------------------

    def _ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ctr", "--address", str(self.paths.containerd_socket), "--namespace", "k8s.io", *args],
                              capture_output=True, text=True)

    def _remove_containers(self) -> None:
        listed = self._ctr("tasks", "list", "--quiet")
        for task in listed.stdout.split() if listed.returncode == 0 else []:
            self._ctr("tasks", "kill", "--signal", "SIGKILL", task)
            self._ctr("tasks", "delete", "--force", task)


def release_host_state(net: NodeNetwork, paths: NodePaths) -> None:
    """What outlives a node's processes on the host: shims and their containers, pod network
    namespaces, mounts, the node's namespace, and gigabytes of images. Also what down.sh runs when
    the supervisor was killed before it could stop the node itself."""
    _kill_shims(paths)
    _delete_pod_namespaces(net)
    _unmount_under(paths.root)
    net.delete()
    # Images and container filesystems are gigabytes; the logs stay for a post-mortem.
    for heavy in ("containerd", "kubelet", "images"):
        shutil.rmtree(paths.root / heavy, ignore_errors=True)


def _kill_shims(paths: NodePaths) -> None:
    """Shims outlive containerd by design, and the containers outlive a killed shim: stop the shims
    our containerd started (found by its socket on their command line) and their children (each
    container's first process), by pid."""
    address = str(paths.containerd_socket).encode()
    parents: dict[int, int] = {}
    shims: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and address in argv:
                shims.append(int(entry.name))
    for pid in [p for p, parent in parents.items() if parent in shims] + shims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _delete_pod_namespaces(net: NodeNetwork) -> None:
    """Sandboxes killed rather than removed through the CRI leave their network namespaces
    (/run/netns/cni-*) behind; ours are the ones with an address in this node's pod subnet."""
    subnet = ipaddress.ip_network(net.pod_subnet)
    for path in Path("/run/netns").glob("cni-*"):
        shown = subprocess.run(["ip", "-n", path.name, "-o", "-4", "addr", "show"], capture_output=True, text=True)
        addresses = re.findall(r"inet (\S+)/", shown.stdout)
        if any(ipaddress.ip_address(a) in subnet for a in addresses):
            subprocess.run(["ip", "netns", "del", path.name], capture_output=True)


def _unmount_under(root: Path) -> None:
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    points = [m.split()[1] for m in mounts if len(m.split()) > 1]
    prefix = str(root.resolve())
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", re.sub(r"\\040", " ", point)], capture_output=True)

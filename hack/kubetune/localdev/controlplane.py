"""A real Kubernetes control plane on loopback: etcd, kube-apiserver,
kube-controller-manager and kube-scheduler, built from pinned upstream modules
by hack/controlplane/build.sh.

    with ControlPlane.start() as cp:
        print(cp.kubeconfig)   # admin kubeconfig (bearer token)

Everything lives in one temporary directory that is removed on stop. Children
die with their parent (see processes.py), so an interrupted run leaves nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import yaml

from kubetune.localdev import processes
from kubetune.localdev.certs import LocalPKI
from kubetune.localdev.node.config import KubeletTLS

BIN_ENV = "KUBETUNE_CONTROLPLANE_BIN"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
SERVICE_CIDR = "10.0.0.0/24"
ADMIN_USER = "kubetune-admin"
# Who the API server is when it calls a node's kubelet API (pods/log, exec, port-forward): a client
# certificate of the control plane's CA, the only identity the local node serves logs to.
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"


class ControlPlaneError(RuntimeError):
    """A component failed to start; the message carries its log tail."""


def build_script() -> Path:
    # hack/kubetune/localdev/controlplane.py -> hack/controlplane/build.sh
    return Path(__file__).resolve().parents[2] / "controlplane" / "build.sh"


def find_binaries() -> Path:
    """The directory holding the binaries: $KUBETUNE_CONTROLPLANE_BIN, or build (cached) now."""
    if os.environ.get(BIN_ENV):
        directory = Path(os.environ[BIN_ENV])
    else:
        script = build_script()
        if not script.exists():
            raise ControlPlaneError(f"set {BIN_ENV}: no build script at {script}")
        out = subprocess.run([str(script)], check=True, capture_output=True, text=True)
        directory = Path(out.stdout.strip().splitlines()[-1])
    missing = [b for b in BINARIES if not (directory / b).is_file()]
    if missing:
        raise ControlPlaneError(f"missing {', '.join(missing)} in {directory}")
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class ControlPlane:
    """A running control plane. Create it with `ControlPlane.start()`."""

    bin_dir: Path
    work_dir: Path
    server: str = ""
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    pki: LocalPKI | None = None
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The API server checks a kubelet's serving certificate against this CA. The local node's is
    # issued here (kubelet_tls); a real kubelet's self-signed one is not (ClusterControlPlane).
    verify_kubelet_serving: ClassVar[bool] = True

    @property
    def ca_file(self) -> Path:
        return self.work_dir / "pki" / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "admin.kubeconfig"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    @property
    def sa_signing_key(self) -> Path:
        return self.work_dir / "pki" / "sa.key"

    # ---- lifecycle -------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(cls, bin_dir: Path | None = None, work_dir: Path | None = None,
              keep_work_dir: bool = False) -> Iterator[ControlPlane]:
        """Start every component, wait until usable, and stop everything on exit."""
        owned = work_dir is None
        directory = work_dir or Path(tempfile.mkdtemp(prefix="kubetune-cp-"))
        cp = cls(bin_dir=bin_dir or find_binaries(), work_dir=directory)
        try:
            cp._boot()
            yield cp
        finally:
            cp.stop()
            if owned and not keep_work_dir:
                shutil.rmtree(directory, ignore_errors=True)

    def stop(self) -> None:
        """Stop in reverse dependency order; etcd last."""
        for name in reversed(list(self._procs)):
            processes.stop(self._procs[name], grace_seconds=10)
        self._procs.clear()

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self._procs.items()}

    def kubelet_tls(self, node_name: str) -> KubeletTLS:
        """What a local node needs to serve the kubelet API: a serving certificate for 127.0.0.1 and its
        name from this control plane's CA, and the CA and user it accepts as the API server."""
        if self.pki is None:
            raise ControlPlaneError("the control plane is not started")
        cert, key = self.pki.issue_serving(f"kubelet-{node_name}", ("127.0.0.1", "localhost", node_name))
        return KubeletTLS(cert=cert, key=key, client_ca=self.ca_file, client_users=(KUBELET_CLIENT_USER,))

    def _boot(self) -> None:
        pki = self.pki = LocalPKI(self.work_dir / "pki")
        etcd_url = self._start_etcd()
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self._start_apiserver(pki, etcd_url, port)
        self._wait_http("/readyz", "kube-apiserver", timeout=120)
        self._write_admin_kubeconfig()
        cm_cert, cm_key = pki.issue_client("controller-manager", "system:kube-controller-manager")
        sched_cert, sched_key = pki.issue_client("scheduler", "system:kube-scheduler")
        cm_config = self._write_cert_kubeconfig("controller-manager", cm_cert, cm_key)
        sched_config = self._write_cert_kubeconfig("scheduler", sched_cert, sched_key)
        self._start_controller_manager(cm_config)
        self._start_scheduler(sched_config)
        # The ServiceAccount controller creating `default` proves the controller-manager works;
        # pods need it before they can be admitted.
        self._wait_http("/api/v1/namespaces/default/serviceaccounts/default", "kube-controller-manager",
                        timeout=120)

    # ---- components ------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._procs[name] = processes.spawn(argv, self.log_dir / f"{name}.log")

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._spawn("etcd", [
            str(self.bin_dir / "etcd"),
            "--name=default",
            f"--data-dir={self.work_dir / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",  # test data: speed over durability
            "--quota-backend-bytes=8589934592",
            "--log-level=warn",
        ])
        return url

    def _start_apiserver(self, pki: LocalPKI, etcd_url: str, port: int) -> None:
        tokens = self.work_dir / "tokens.csv"
        tokens.write_text(f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)
        p = pki.paths
        kubelet_cert, kubelet_key = pki.issue_client("apiserver-kubelet-client", KUBELET_CLIENT_USER,
                                                     ("system:masters",))
        kubelet_ca = [f"--kubelet-certificate-authority={p.ca_cert}"] if self.verify_kubelet_serving else []
        self._spawn("kube-apiserver", [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The `kubernetes` Service may not point at loopback; the local node gives pods
            # the real address through KUBERNETES_SERVICE_HOST instead.
            "--endpoint-reconciler-type=none",
            f"--secure-port={port}",
            f"--tls-cert-file={p.serving_cert}",
            f"--tls-private-key-file={p.serving_key}",
            f"--client-ca-file={p.ca_cert}",
            f"--token-auth-file={tokens}",
            f"--service-account-key-file={p.sa_pub}",
            f"--service-account-signing-key-file={p.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            "--enable-admission-plugins=NodeRestriction",
            # pods/log and friends: the API server calls the node at its InternalIP (a node's
            # Hostname resolves nowhere here) with its own client certificate.
            f"--kubelet-client-certificate={kubelet_cert}",
            f"--kubelet-client-key={kubelet_key}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            *kubelet_ca,
            *self._apiserver_extra_flags(pki),
            "--profiling=false",
            "--v=1",
        ])

    def _apiserver_extra_flags(self, pki: LocalPKI) -> list[str]:
        """Flags a subclass adds (the real cluster's front proxy for aggregated APIs)."""
        return []

    def _start_controller_manager(self, kubeconfig: Path) -> None:
        self._spawn("kube-controller-manager", [
            str(self.bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--root-ca-file={self.ca_file}",
            f"--service-account-private-key-file={self.sa_signing_key}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            "--controllers=*",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Pods of deleted nodes and finished Jobs are handled quickly in tests.
            "--concurrent-job-syncs=10",
            "--v=1",
        ])

    def _start_scheduler(self, kubeconfig: Path) -> None:
        self._spawn("kube-scheduler", [
            str(self.bin_dir / "kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
            "--v=1",
        ])

    # ---- kubeconfigs -----------------------------------------------------------

    def _kubeconfig(self, user: dict[str, str]) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubetune-local",
                          "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": "user", "user": user}],
            "contexts": [{"name": "kubetune-local", "context": {"cluster": "kubetune-local", "user": "user"}}],
            "current-context": "kubetune-local",
        }

    def _write_admin_kubeconfig(self) -> None:
        self.kubeconfig.write_text(yaml.safe_dump(self._kubeconfig({"token": self.admin_token})))
        self.kubeconfig.chmod(0o600)

    def _write_cert_kubeconfig(self, name: str, cert: Path, key: Path) -> Path:
        path = self.work_dir / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(self._kubeconfig(
            {"client-certificate": str(cert), "client-key": str(key)})))
        path.chmod(0o600)
        return path

    # ---- readiness -------------------------------------------------------------

    def request(self, path: str, timeout: float = 10, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """GET path with the admin token; (status, body)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        req = urllib.request.Request(  # noqa: S310 - always our own https server
            self.server + path, headers={"Authorization": f"Bearer {self.admin_token}", **(headers or {})})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:  # noqa: S310 - our own https server
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def _wait_http(self, path: str, component: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            dead = [n for n, alive in self.alive().items() if not alive]
            if dead:
                name = dead[0]
                raise ControlPlaneError(f"{name} exited:\n{_log_tail(self.log_dir / f'{name}.log')}")
            try:
                status, body = self.request(path, timeout=5)
                if status == 200:
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except (OSError, ssl.SSLError) as err:
                last = str(err)
            time.sleep(0.2)  # polling a process we just started; there is nothing to watch yet
        raise ControlPlaneError(
            f"{component} not ready after {timeout}s ({last}):\n"
            f"{_log_tail(self.log_dir / f'{component}.log')}"
        )

    def describe(self) -> dict[str, str]:
        return {"server": self.server, "kubeconfig": str(self.kubeconfig), "workDir": str(self.work_dir)}

    def __str__(self) -> str:
        return json.dumps(self.describe())

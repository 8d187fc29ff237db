"""A real KEDA operator on the local control plane, for InferenceService autoscaling tests.

    with ControlPlane.start() as cp, Keda.start(cp) as keda:
        ...  # ScaledObjects are reconciled: KEDA makes their HPA, pauses them, scales to zero

The operator binary and its CRDs come from the pinned module in hack/keda (built once per machine by
hack/keda/build.sh, cached by version). It runs as a host process like the control plane's components,
with a self-signed certificate for its gRPC metrics service (the keda-metrics-apiserver would call it).

What does not run here: keda-metrics-apiserver. It serves external.metrics.k8s.io as an aggregated
API behind a Service, which needs the kube-apiserver's front-proxy (requestheader) configuration and
Service endpoints that loopback host processes cannot back (the reason Kueue's visibility server is off
too, kueue.py). So the HPA KEDA creates cannot read its external metric here; KEDA's own work (accepting
the ScaledObject, creating and owning its HPA, pausing at a replica count) is real. The real cluster runs
both as pods and scales by load (kubetune.cluster.keda, tests/e2e/test_autoscaling_keda_cluster.py).

On stop the KEDA CRDs are deleted (with every ScaledObject), so later tests on a shared control plane
see a cluster without KEDA again.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.localdev import built, processes
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane, free_port
from kubetune.localdev.crds import install_crds
from kubetune.localdev.kueue import write_serving_certs

DIR_ENV = "KUBETUNE_KEDA_DIR"
NAMESPACE = "keda"


class KedaError(RuntimeError):
    """KEDA failed to build or start; the message carries its log tail."""


def find_keda() -> Path:
    """The directory with `keda-operator` and `crds/`: $KUBETUNE_KEDA_DIR, or build (cached) now."""
    return built.find_built("keda", DIR_ENV, ("keda-operator", "crds"), KedaError)


@dataclass
class Keda:
    control_plane: ControlPlane
    directory: Path
    work_dir: Path
    health_port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.work_dir / "keda.log"

    @classmethod
    @contextmanager
    def start(cls, control_plane: ControlPlane, directory: Path | None = None) -> Iterator[Keda]:
        """Install KEDA's CRDs, start its operator, wait until it is ready; stop and uninstall on exit."""
        work = Path(tempfile.mkdtemp(prefix="kubetune-keda-", dir=control_plane.work_dir))
        keda = cls(control_plane=control_plane, directory=directory or find_keda(), work_dir=work)
        with client.ApiClient(client_configuration(control_plane.kubeconfig)) as api:
            try:
                keda._boot(api)
                yield keda
            finally:
                keda._stop(api)

    def _boot(self, api: client.ApiClient) -> None:
        install_crds(api, self.directory / "crds")
        with suppress(ApiException):  # 409: already there
            client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        cert_dir = self.work_dir / "certs"
        write_serving_certs(cert_dir)
        self.health_port = free_port()
        env = {**os.environ, "WATCH_NAMESPACE": "", "POD_NAMESPACE": NAMESPACE,
               "KEDA_CLUSTER_OBJECT_NAMESPACE": NAMESPACE, "OPERATOR_NAME": "keda-operator"}
        argv = [str(self.directory / "keda-operator"), f"--kubeconfig={self.control_plane.kubeconfig}",
                f"--metrics-bind-address=127.0.0.1:{free_port()}",
                f"--health-probe-bind-address=127.0.0.1:{self.health_port}",
                f"--metrics-service-bind-address=127.0.0.1:{free_port()}", f"--cert-dir={cert_dir}",
                "--leader-elect=false", "--enable-cert-rotation=false", "--zap-log-level=info"]
        self._proc = processes.spawn(argv, self.log_path, env=env, cwd=self.work_dir)
        self._wait_ready(timeout=120)

    def _wait_ready(self, timeout: float) -> None:
        built.wait_ready(self._proc, self.health_port, "keda-operator", self.log_tail, KedaError, timeout)

    def _stop(self, api: client.ApiClient) -> None:
        if self._proc is not None:
            processes.stop(self._proc, grace_seconds=10)
        extensions = client.ApiextensionsV1Api(api)
        files = sorted((self.directory / "crds").glob("*.yaml"))
        names = [yaml.safe_load(path.read_text())["metadata"]["name"] for path in files]
        for name in names:
            with suppress(ApiException):
                extensions.delete_custom_resource_definition(name)
        deadline = time.monotonic() + 60
        while names and time.monotonic() < deadline:  # gone, not just terminating, before the next test
            try:
                extensions.read_custom_resource_definition(names[0])
            except ApiException as exc:
                if exc.status == 404:
                    names.pop(0)
                    continue
            time.sleep(0.2)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

"""A real Kueue controller on the local control plane, for queues and gang admission.

    with ControlPlane.start() as cp, Kueue.start(cp) as kueue:
        ...  # Jobs labelled kueue.x-k8s.io/queue-name are admitted by Kueue

The manager binary, its CRDs and its webhook manifests come from the pinned module in
hack/kueue (built once per machine by hack/kueue/build.sh, cached by version). It runs as a
host process like the control plane's components:

- its CRDs are installed from the same module version;
- internal cert management is off: this module generates a CA and a serving certificate for
  127.0.0.1, used by the webhook server (bound to 127.0.0.1 on a free port) and the metrics
  server; the webhook configurations of the module, for the kinds this process serves
  (Kueue's own and batch/v1 Jobs), point at https://127.0.0.1:<port> with that CA;
- waitForPodsReady is on, so that a multi-pod Job is admitted all-or-nothing and a group
  that cannot start in time gives its quota back;
- the visibility server (an aggregated API Kueue registers behind a Service) is off: loopback
  cannot back a Service's endpoints here. Queue positions are read from Workloads instead.

On stop the webhook configurations are deleted before the process ends, so a control plane
that lives on does not send its Jobs to a webhook that is gone.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.localdev import built, processes
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane, free_port
from kubetune.localdev.crds import install_crds

DIR_ENV = "KUBETUNE_KUEUE_DIR"
NAMESPACE = "kueue-system"
WEBHOOK_PREFIX = "kubetune-local-kueue"
# Webhook paths this process serves: Kueue's own kinds and the batch/job integration. The module's
# manifests also list Pods, Deployments, JobSets, Ray... whose handlers are registered only when
# those integrations are on; pointing the API server at them would refuse every such object.
SERVED_PATH_PARTS = ("-kueue-x-k8s-io-", "-batch-v1-job")
FRAMEWORKS = ("batch/job",)


class KueueError(RuntimeError):
    """Kueue failed to build or start; the message carries its log tail."""


def find_kueue() -> Path:
    """The directory with `kueue`, `crds/` and `webhooks.yaml`: $KUBETUNE_KUEUE_DIR, or build (cached) now."""
    return built.find_built("kueue", DIR_ENV, ("kueue", "crds", "webhooks.yaml"), KueueError)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_serving_certs(directory: Path) -> bytes:
    """A CA and a 127.0.0.1 serving certificate as tls.crt/tls.key in directory; returns the CA's PEM."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubetune-local-kueue-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kueue-webhook")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(_pem_key(key))
    (directory / "tls.key").chmod(0o600)
    (directory / "ca.crt").write_bytes(ca_pem)
    return ca_pem


def manager_config(webhook_port: int, cert_dir: Path, health_port: int, metrics_port: int,
                   pods_ready_timeout: str = "5m") -> dict[str, Any]:
    """Kueue's Configuration (config.kueue.x-k8s.io/v1beta2) for a process on loopback."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health_port}"},
        "metrics": {"bindAddress": f"127.0.0.1:{metrics_port}"},
        "webhook": {"host": "127.0.0.1", "port": webhook_port, "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        # Gang admission: a Workload holds its quota only while all its pods become ready in time;
        # blockAdmission admits the next one only when the previous group is running.
        "waitForPodsReady": {"timeout": pods_ready_timeout, "blockAdmission": True},
        "manageJobsWithoutQueueName": False,
        "integrations": {"frameworks": list(FRAMEWORKS)},
        "featureGates": {"VisibilityOnDemand": False},
    }


def webhook_configurations(manifests: str, port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    """The module's webhook configurations, served hooks only, each calling https://127.0.0.1:port."""
    import base64

    bundle = base64.b64encode(ca_pem).decode()
    out = []
    for doc in yaml.safe_load_all(manifests):
        if not doc:
            continue
        hooks = []
        for hook in doc.get("webhooks") or ():
            path = hook["clientConfig"]["service"]["path"]
            if not any(part in path for part in SERVED_PATH_PARTS):
                continue
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": bundle}
            hooks.append(hook)
        kind = doc["kind"]
        short = "mutating" if kind.startswith("Mutating") else "validating"
        doc["metadata"] = {"name": f"{WEBHOOK_PREFIX}-{short}"}
        doc["webhooks"] = hooks
        out.append(doc)
    return out


@dataclass
class Kueue:
    """A running Kueue manager. Create it with `Kueue.start(control_plane)`."""

    control_plane: ControlPlane
    directory: Path
    work_dir: Path
    webhook_port: int = 0
    health_port: int = 0
    metrics_port: int = 0
    _proc: subprocess.Popen[bytes] | None = None
    _webhooks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.work_dir / "kueue.log"

    @classmethod
    @contextmanager
    def start(cls, control_plane: ControlPlane, directory: Path | None = None,
              pods_ready_timeout: str = "5m") -> Iterator[Kueue]:
        """Install CRDs and webhooks, start the manager, wait until it admits; stop on exit."""
        work = Path(tempfile.mkdtemp(prefix="kubetune-kueue-", dir=control_plane.work_dir))
        kueue = cls(control_plane=control_plane, directory=directory or find_kueue(), work_dir=work)
        with client.ApiClient(client_configuration(control_plane.kubeconfig)) as api:
            try:
                kueue._boot(api, pods_ready_timeout)
                yield kueue
            finally:
                kueue._stop(api)

    def _boot(self, api: client.ApiClient, pods_ready_timeout: str) -> None:
        install_crds(api, self.directory / "crds")
        with suppress(ApiException):  # 409: already there
            client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        cert_dir = self.work_dir / "certs"
        ca_pem = write_serving_certs(cert_dir)
        self.webhook_port, self.health_port, self.metrics_port = free_port(), free_port(), free_port()
        config_path = self.work_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(manager_config(
            self.webhook_port, cert_dir, self.health_port, self.metrics_port, pods_ready_timeout)))
        env = {**os.environ, "KUBECONFIG": str(self.control_plane.kubeconfig), "KUEUE_METRICS_CERT_DIR": str(cert_dir)}
        self._proc = processes.spawn([str(self.directory / "kueue"), f"--config={config_path}", "--zap-log-level=2"],
                                     self.log_path, env=env, cwd=self.work_dir)
        self._wait_ready(timeout=120)
        self._webhooks = webhook_configurations((self.directory / "webhooks.yaml").read_text(),
                                                self.webhook_port, ca_pem)
        admission = client.AdmissionregistrationV1Api(api)
        for doc in self._webhooks:
            if doc["kind"] == "MutatingWebhookConfiguration":
                admission.create_mutating_webhook_configuration(doc)
            else:
                admission.create_validating_webhook_configuration(doc)

    def _wait_ready(self, timeout: float) -> None:
        built.wait_ready(self._proc, self.health_port, "kueue", self.log_tail, KueueError, timeout)

    def _stop(self, api: client.ApiClient) -> None:
        admission = client.AdmissionregistrationV1Api(api)
        for doc in self._webhooks:
            with suppress(ApiException):
                if doc["kind"] == "MutatingWebhookConfiguration":
                    admission.delete_mutating_webhook_configuration(doc["metadata"]["name"])
                else:
                    admission.delete_validating_webhook_configuration(doc["metadata"]["name"])
        if self._proc is not None:
            processes.stop(self._proc, grace_seconds=10)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

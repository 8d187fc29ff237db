"""The local control plane, with what real kubelets need from it.

Same components and flags as kubetune.localdev.controlplane.ControlPlane (which already gives
the API server a client certificate for kubelets and reaches them at their InternalIP), except
that the kubelet's self-signed serving certificate is not checked against the CA, and that the API
server is an aggregator: it proxies aggregated APIs (metrics.k8s.io, served by metrics-server in a
pod) with a front-proxy client certificate and reaches their Services at the pods' own addresses.
Node and kube-proxy identities are issued from the same CA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from kubetune.localdev.certs import LocalPKI
from kubetune.localdev.controlplane import ControlPlane

FRONT_PROXY_USER = "front-proxy-client"


@dataclass
class ClusterControlPlane(ControlPlane):
    identities: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    # The kubelet serves with its own self-signed certificate (serverTLSBootstrap is off).
    verify_kubelet_serving: ClassVar[bool] = False

    def _start_apiserver(self, pki: LocalPKI, etcd_url: str, port: int) -> None:
        # LocalPKI makes a fresh CA on construction, so every identity is issued here, from the
        # PKI the control plane itself uses (the base issues the API server's kubelet client).
        self.identities["kube-proxy"] = pki.issue_client("kube-proxy", "system:kube-proxy")
        super()._start_apiserver(pki, etcd_url, port)

    def _apiserver_extra_flags(self, pki: LocalPKI) -> list[str]:
        # The front proxy gets a CA of its own: the extension API server trusts X-Remote-User headers
        # only from a certificate of this CA named front-proxy-client, so no ordinary client
        # certificate of the cluster CA (a kubelet's, an admin's) can assert another user through it.
        front = LocalPKI(self.work_dir / "front-proxy")
        cert, key = front.issue_client("front-proxy-client", FRONT_PROXY_USER)
        return [
            f"--requestheader-client-ca-file={front.paths.ca_cert}",
            f"--requestheader-allowed-names={FRONT_PROXY_USER}",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={cert}",
            f"--proxy-client-key-file={key}",
            # The API server runs on the host, where ClusterIPs do not route (kube-proxy's rules live
            # in the node's namespace); pod addresses do, through the host route to the node.
            "--enable-aggregator-routing=true",
        ]

    def node_identity(self, node_name: str) -> tuple[Path, Path]:
        """A kubelet's credential: user system:node:<name> in system:nodes (Node authorizer and
        NodeRestriction keep it to its own node and pods)."""
        assert self.pki is not None, "the control plane is not started"
        return self.pki.issue_client(f"node-{node_name}", f"system:node:{node_name}", ("system:nodes",))

    def cert_kubeconfig(self, name: str, cert: Path, key: Path) -> Path:
        return self._write_cert_kubeconfig(name, cert, key)

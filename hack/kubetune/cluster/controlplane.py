"""The local control plane, with what real kubelets need from it.

Same components and flags as kubetune.localdev.controlplane.ControlPlane, plus a client
certificate for the API server to present to kubelets (`kubectl logs`, `exec`, `port-forward`)
and the node's InternalIP as the address to reach them by. Node and kube-proxy identities are
issued from the same CA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubetune.localdev.certs import LocalPKI
from kubetune.localdev.controlplane import ControlPlane


@dataclass
class ClusterControlPlane(ControlPlane):
    identities: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    def _start_apiserver(self, pki: LocalPKI, etcd_url: str, port: int) -> None:
        # LocalPKI makes a fresh CA on construction, so every identity is issued here, from the
        # PKI the control plane itself uses.
        self.identities["apiserver-kubelet-client"] = pki.issue_client(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",))
        self.identities["kube-proxy"] = pki.issue_client("kube-proxy", "system:kube-proxy")
        self._pki = pki
        super()._start_apiserver(pki, etcd_url, port)

    def _spawn(self, name: str, argv: list[str]) -> None:
        if name == "kube-apiserver":
            cert, key = self.identities["apiserver-kubelet-client"]
            argv = [*argv,
                    f"--kubelet-client-certificate={cert}",
                    f"--kubelet-client-key={key}",
                    "--kubelet-preferred-address-types=InternalIP,Hostname"]
        super()._spawn(name, argv)

    def node_identity(self, node_name: str) -> tuple[Path, Path]:
        """A kubelet's credential: user system:node:<name> in system:nodes (Node authorizer and
        NodeRestriction keep it to its own node and pods)."""
        return self._pki.issue_client(f"node-{node_name}", f"system:node:{node_name}", ("system:nodes",))

    def cert_kubeconfig(self, name: str, cert: Path, key: Path) -> Path:
        return self._write_cert_kubeconfig(name, cert, key)

"""The API server's flags towards kubelets: the local control plane checks the node's serving certificate
(the local node's is issued from its CA); the real-kubelet cluster cannot (kubelets serve self-signed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubetune.cluster.controlplane import ClusterControlPlane
from kubetune.localdev.certs import LocalPKI
from kubetune.localdev.controlplane import KUBELET_CLIENT_USER, ControlPlane

pytestmark = pytest.mark.unit


def _apiserver_argv(cls: type[ControlPlane], tmp_path: Path) -> list[str]:
    spawned: dict[str, list[str]] = {}
    cp = cls(bin_dir=tmp_path / "bin", work_dir=tmp_path)
    cp._spawn = lambda name, argv: spawned.__setitem__(name, argv)  # type: ignore[method-assign]
    cp._start_apiserver(LocalPKI(tmp_path / "pki"), "http://127.0.0.1:1", 6443)
    return spawned["kube-apiserver"]


def _flag(argv: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    assert len(values) <= 1, f"--{name} given twice: {values}"
    return values[0] if values else None


def test_local_control_plane_authenticates_to_kubelets_and_checks_them(tmp_path: Path) -> None:
    argv = _apiserver_argv(ControlPlane, tmp_path)
    cert = _flag(argv, "kubelet-client-certificate")
    assert cert is not None
    subject = x509.load_pem_x509_certificate(Path(cert).read_bytes()).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == KUBELET_CLIENT_USER
    assert _flag(argv, "kubelet-client-key") is not None
    assert _flag(argv, "kubelet-preferred-address-types") == "InternalIP,Hostname"
    assert _flag(argv, "kubelet-certificate-authority") == str(tmp_path / "pki" / "ca.crt")


def test_real_kubelet_cluster_does_not_check_self_signed_kubelets(tmp_path: Path) -> None:
    argv = _apiserver_argv(ClusterControlPlane, tmp_path)
    assert _flag(argv, "kubelet-client-certificate") is not None
    assert _flag(argv, "kubelet-certificate-authority") is None


def test_real_kubelet_cluster_proxies_aggregated_apis_with_a_front_proxy_of_its_own_ca(tmp_path: Path) -> None:
    argv = _apiserver_argv(ClusterControlPlane, tmp_path)
    front_ca = _flag(argv, "requestheader-client-ca-file")
    proxy_cert = _flag(argv, "proxy-client-cert-file")
    assert front_ca is not None and proxy_cert is not None and _flag(argv, "proxy-client-key-file") is not None
    # A CA apart from the cluster's: no kubelet or admin certificate can pose as the front proxy.
    assert Path(front_ca).read_bytes() != (tmp_path / "pki" / "ca.crt").read_bytes()
    cert = x509.load_pem_x509_certificate(Path(proxy_cert).read_bytes())
    ca = x509.load_pem_x509_certificate(Path(front_ca).read_bytes())
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == _flag(
        argv, "requestheader-allowed-names")
    assert _flag(argv, "requestheader-username-headers") == "X-Remote-User"
    assert _flag(argv, "enable-aggregator-routing") == "true"


def test_local_control_plane_has_no_front_proxy(tmp_path: Path) -> None:
    argv = _apiserver_argv(ControlPlane, tmp_path)
    assert _flag(argv, "requestheader-client-ca-file") is None
    assert _flag(argv, "enable-aggregator-routing") is None

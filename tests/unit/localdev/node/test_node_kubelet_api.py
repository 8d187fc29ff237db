"""The node's kubelet API over real TLS on loopback: who may read logs, and the HTTP answers."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetune.localdev.certs import LocalPKI
from kubetune.localdev.node.config import KubeletTLS
from kubetune.localdev.node.kubeletapi import KubeletAPI

pytestmark = pytest.mark.unit

API_SERVER = "kube-apiserver-kubelet-client"
UID = "0f0e"


@pytest.fixture
def pki(tmp_path: Path) -> LocalPKI:
    return LocalPKI(tmp_path / "pki")


@pytest.fixture
def kubelet(pki: LocalPKI, tmp_path: Path) -> Iterator[KubeletAPI]:
    logs = tmp_path / "logs"
    container = logs / f"ns_train-0_{UID}" / "main"
    container.mkdir(parents=True)
    (container / "0.log").write_text("crashed\n")
    (container / "1.log").write_text("one\ntwo\nthree\n")
    cert, key = pki.issue_serving("kubelet-local-node", ("127.0.0.1", "local-node"))
    tls = KubeletTLS(cert=cert, key=key, client_ca=pki.paths.ca_cert, client_users=(API_SERVER,))
    api = KubeletAPI(tls, logs, lambda ns, pod: UID if (ns, pod) == ("ns", "train-0") else None,
                     lambda path: False)
    api.start()
    yield api
    api.stop()


def _client(pki: LocalPKI, user: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.paths.ca_cert))  # checks the node's cert for 127.0.0.1
    if user is not None:
        cert, key = pki.issue_client(user.replace(":", "-"), user)
        context.load_cert_chain(str(cert), str(key))
    return context


def _get(port: int, context: ssl.SSLContext, path: str) -> tuple[int, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_the_api_servers_certificate_reads_logs(kubelet: KubeletAPI, pki: LocalPKI) -> None:
    context = _client(pki, API_SERVER)
    assert _get(kubelet.port, context, "/containerLogs/ns/train-0/main") == (200, "one\ntwo\nthree\n")
    assert _get(kubelet.port, context, "/containerLogs/ns/train-0/main?tailLines=1") == (200, "three\n")
    assert _get(kubelet.port, context, "/containerLogs/ns/train-0/main?previous=true") == (200, "crashed\n")
    assert _get(kubelet.port, context, "/containerLogs/ns/train-0/main?limitBytes=3") == (200, "one")


def test_errors_are_the_kubelets(kubelet: KubeletAPI, pki: LocalPKI) -> None:
    context = _client(pki, API_SERVER)
    status, body = _get(kubelet.port, context, "/containerLogs/ns/gone-0/main")
    assert (status, body.strip()) == (404, 'pod "ns/gone-0" not found')
    status, body = _get(kubelet.port, context, "/containerLogs/ns/train-0/main?tailLines=-2")
    assert status == 400 and "tailLines: must be at least 0" in body
    status, body = _get(kubelet.port, context, "/containerLogs/ns/train-0/sidecar")
    assert status == 400 and 'container "sidecar" in pod "train-0" is waiting to start' in body
    assert _get(kubelet.port, context, "/exec/ns/train-0/main")[0] == 404
    status, body = _get(kubelet.port, context, "/containerLogs/ns/train-0/..%2F..%2Fetc")
    assert status == 400 and "invalid name" in body


def test_another_user_of_the_same_ca_is_forbidden(kubelet: KubeletAPI, pki: LocalPKI) -> None:
    status, body = _get(kubelet.port, _client(pki, "system:kube-scheduler"), "/containerLogs/ns/train-0/main")
    assert status == 403 and "user=system:kube-scheduler" in body


def test_a_client_without_a_certificate_is_refused(kubelet: KubeletAPI, pki: LocalPKI) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(kubelet.port, _client(pki, None), "/containerLogs/ns/train-0/main")


def test_a_certificate_of_another_ca_is_refused(kubelet: KubeletAPI, pki: LocalPKI, tmp_path: Path) -> None:
    other = LocalPKI(tmp_path / "other")
    context = _client(pki, None)
    cert, key = other.issue_client("intruder", API_SERVER)  # the right name, the wrong CA
    context.load_cert_chain(str(cert), str(key))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(kubelet.port, context, "/containerLogs/ns/train-0/main")

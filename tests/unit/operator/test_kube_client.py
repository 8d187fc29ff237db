"""Kube against a real HTTP server: paths, headers, bodies, and API errors with their codes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from kubetune.operator.kube import MERGE_PATCH, ApiError, Kube

pytestmark = pytest.mark.unit


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    answers: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.seen.append({"method": self.command, "path": self.path, "headers": headers, "body": body})
        status, payload = self.answers.get((self.command, self.path), (200, {"kind": "Status", "ok": True}))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer  # noqa: N815 (http.server's names)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen, Recorder.answers = [], {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _kube(host: str, token: str = "s3cret") -> Kube:
    cfg = client.Configuration()
    cfg.host = host
    cfg.api_key = {"authorization": f"Bearer {token}"}
    return Kube(client.ApiClient(cfg), timeout=5)


def test_create_posts_the_manifest_with_the_bearer_token(server: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"},
                "data": {"run.json": "{}"}}
    Recorder.answers[("POST", "/api/v1/namespaces/ns/configmaps")] = (201, {**manifest, "created": True})
    created = _kube(server).create(manifest)
    assert created is not None and created["created"] is True
    request = Recorder.seen[-1]
    assert request["body"] == manifest
    assert request["headers"]["authorization"] == "Bearer s3cret"
    assert request["headers"]["content-type"] == "application/json"


def test_status_patch_is_a_merge_patch_on_the_subresource(server: str) -> None:
    _kube(server).patch("kubetune.io/v1alpha1", "Training", "ns", "t", {"status": {"phase": "Queued"}},
                        subresource="status")
    request = Recorder.seen[-1]
    assert request["method"] == "PATCH"
    assert request["path"] == "/apis/kubetune.io/v1alpha1/namespaces/ns/trainings/t/status"
    assert request["headers"]["content-type"] == MERGE_PATCH
    assert request["body"] == {"status": {"phase": "Queued"}}


def test_list_sends_the_label_selector(server: str) -> None:
    Recorder.answers[("GET", "/api/v1/namespaces/ns/pods?labelSelector=a%3Db")] = (200, {"items": [{"x": 1}]})
    assert _kube(server).list("v1", "Pod", "ns", label_selector="a=b") == [{"x": 1}]


def test_errors_keep_their_status_and_message(server: str) -> None:
    Recorder.answers[("PATCH", "/apis/batch/v1/namespaces/ns/jobs/j")] = (
        422, {"kind": "Status", "message": "spec.template: field is immutable"})
    with pytest.raises(ApiError) as caught:
        _kube(server).patch("batch/v1", "Job", "ns", "j", {"spec": {"template": {}}})
    assert caught.value.status == 422
    assert caught.value.message == "spec.template: field is immutable"
    assert not caught.value.transient


def test_conflict_on_create_means_already_there_and_404_on_get_means_none(server: str) -> None:
    Recorder.answers[("POST", "/api/v1/namespaces/ns/serviceaccounts")] = (409, {"message": "exists"})
    manifest = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "s", "namespace": "ns"}}
    assert _kube(server).create(manifest) is None
    Recorder.answers[("GET", "/api/v1/namespaces/ns/serviceaccounts/s")] = (404, {"message": "not found"})
    assert _kube(server).get("v1", "ServiceAccount", "ns", "s") is None


def test_an_unreachable_server_is_a_transient_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApiError) as caught:
        _kube(f"http://127.0.0.1:{port}").get("v1", "ConfigMap", "ns", "c")
    assert caught.value.status == 0
    assert caught.value.transient


def test_credentials_are_read_once_then_again_after_a_401(server: str) -> None:
    kube = _kube(server)
    calls: list[int] = []

    def refresh(cfg: client.Configuration) -> None:  # what a rotating-token loader installs
        calls.append(1)
        cfg.api_key = {"authorization": f"Bearer token-{len(calls)}"}

    kube.api.configuration.refresh_api_key_hook = refresh
    for _ in range(3):
        kube.get("v1", "ConfigMap", "ns", "c")
    assert len(calls) == 1
    assert Recorder.seen[-1]["headers"]["authorization"] == "Bearer token-1"
    Recorder.answers[("GET", "/api/v1/namespaces/ns/configmaps/c")] = (401, {"message": "token expired"})
    with pytest.raises(ApiError) as caught:
        kube.get("v1", "ConfigMap", "ns", "c")
    assert caught.value.status == 401
    del Recorder.answers[("GET", "/api/v1/namespaces/ns/configmaps/c")]
    kube.get("v1", "ConfigMap", "ns", "c")
    assert len(calls) == 2
    assert Recorder.seen[-1]["headers"]["authorization"] == "Bearer token-2"


def test_a_server_behind_a_path_prefix(server: str) -> None:
    _kube(server + "/k8s/clusters/c-1/").get("v1", "Namespace", None, "default")
    assert Recorder.seen[-1]["path"] == "/k8s/clusters/c-1/api/v1/namespaces/default"

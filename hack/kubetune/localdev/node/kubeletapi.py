"""The kubelet API of the local node, as much of it as `kubectl logs` needs: containerLogs over HTTPS.

    GET /containerLogs/{namespace}/{pod}/{container}?follow=&previous=&tailLines=&sinceSeconds=&limitBytes=

The API server calls it for pods/log with its kubelet client certificate (controlplane.py), at the
port the node advertises in status.daemonEndpoints.kubeletEndpoint. As a kubelet does, the node
serves with a certificate of the cluster's CA and asks every client for one: a client without a
certificate of `client_ca` fails the TLS handshake, one whose user (CN) is not among `client_users`
gets 403. Nothing else of the kubelet API (exec, port-forward, stats) is served.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kubetune.localdev.node import containerlogs
from kubetune.localdev.node.config import KubeletTLS
from kubetune.localdev.node.containerlogs import LogRequestError

log = logging.getLogger(__name__)

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # DNS subdomain: namespaces, pods, containers
HANDSHAKE_TIMEOUT_SECONDS = 10
WRITE_TIMEOUT_SECONDS = 60  # a reader that stops reading a followed log lets go of its thread after this

# (namespace, pod) -> the uid of the pod the node runs under that name, or None.
PodUid = Callable[[str, str], "str | None"]
# A log file -> whether its run is still writing to it.
Live = Callable[[Path], bool]


def server_context(tls: KubeletTLS) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.client_ca))
    context.load_cert_chain(str(tls.cert), str(tls.key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_user(peer: dict[str, Any] | None) -> str | None:
    """The CN of a verified peer certificate (ssl.getpeercert() form)."""
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: KubeletAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A refused handshake (no or a foreign client certificate) lands here: the client was told.
        log.debug("kubelet api: request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # The handshake runs here, in the request's thread, so a slow or bad client never blocks accept().
        self.request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        self.request.do_handshake()
        self.request.settimeout(WRITE_TIMEOUT_SECONDS)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("kubelet api: " + format, *args)

    def _plain(self, status: int, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        user = client_user(self.request.getpeercert())
        if user not in self.server.api.tls.client_users:
            self._plain(403, f"Forbidden (user={user}, verb=get, resource=nodes, subresource=proxy)")
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if len(parts) != 4 or parts[0] != "containerLogs":
            self._plain(404, f"404 page not found: {url.path}")
            return
        bad = [p for p in parts[1:] if not _NAME.fullmatch(p)]
        if bad:  # names become paths: nothing but Kubernetes names (no "..", "/" or glob characters)
            self._plain(400, f"invalid name {bad[0]!r}")
            return
        try:
            chunks = self.server.api.open_log(parts[1], parts[2], parts[3], parse_qs(url.query))
        except LogRequestError as error:
            self._plain(error.status, error.message)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True  # the reader went away (kubectl logs -f ended with Ctrl-C)


class KubeletAPI:
    """The containerLogs endpoint on a free port of 127.0.0.1: `start()` returns the port."""

    def __init__(self, tls: KubeletTLS, logs_dir: Path, pod_uid: PodUid, live: Live) -> None:
        self.tls = tls
        self.logs_dir = logs_dir
        self.pod_uid = pod_uid
        self.live = live
        self.stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return 0 if self._server is None else int(self._server.server_address[1])

    def start(self, host: str = "127.0.0.1") -> int:
        server = _Server((host, 0), _Handler)
        server.api = self
        server.socket = server_context(self.tls).wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="kubelet-api", daemon=True)
        self._thread.start()
        log.info("kubelet API (container logs) on https://%s:%s", host, self.port)
        return self.port

    def stop(self) -> None:
        self.stopped.set()  # ends followed logs
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def open_log(self, namespace: str, pod: str, container: str, params: dict[str, list[str]]) -> Iterator[bytes]:
        """The chunks of a container's log; LogRequestError for what the kubelet would refuse."""
        query = containerlogs.parse_query(params)
        directory = containerlogs.pod_dir(self.logs_dir, namespace, pod, self.pod_uid(namespace, pod))
        if directory is None:
            raise LogRequestError(404, f'pod "{namespace}/{pod}" not found')
        path = containerlogs.select_run(containerlogs.runs(directory / container), pod, container, query.previous)
        return containerlogs.stream(path, query, lambda: self.live(path), self.stopped)

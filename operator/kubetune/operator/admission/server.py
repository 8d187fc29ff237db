"""The webhook's HTTPS server: one POST route per reviewed kind, in a thread of every operator replica.

Its own small server rather than kopf's admission support: kopf serves webhooks only inside the
running operator, which here is the Lease holder alone (main.py waits for the Lease before kopf
starts), so a standby replica behind the webhook's Service would refuse connections; and kopf's
managed mode makes its own certificate and rewrites the ValidatingWebhookConfiguration at run time,
while the chart owns both (docs/operator.md, "Admission webhook"). This one starts with the metrics
server, before leader election, in every replica.

The certificate is read again when its files change (a renewed Secret reaches a mounted volume
without a restart): each accepted connection is wrapped with the current context.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubetune.crd.kinds import INFERENCE_SERVICE
from kubetune.operator.admission.review import Reader, review
from kubetune.operator.admission.serving import inference_service_problems
from kubetune.operator.settings import Settings

log = logging.getLogger("kubetune.operator.admission")
TRAININGS_PATH = "/validate/trainings"
INFERENCE_SERVICES_PATH = "/validate/inferenceservices"
MAX_BODY = 3 * 1024 * 1024  # the API server's own request limit is 3 MiB
HANDSHAKE_TIMEOUT = 10.0


class CertificateFiles:
    """An SSLContext for the certificate and key files, made again when either file changes."""

    def __init__(self, certfile: str, keyfile: str) -> None:
        self.certfile, self.keyfile = certfile, keyfile
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._context: ssl.SSLContext | None = None

    def _stat(self) -> tuple[int, ...]:
        a, b = os.stat(self.certfile), os.stat(self.keyfile)
        return a.st_mtime_ns, a.st_ino, a.st_size, b.st_mtime_ns, b.st_ino, b.st_size

    def context(self) -> ssl.SSLContext:
        with self._lock:
            stamp = self._stat()
            if self._context is None or stamp != self._stamp:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(self.certfile, self.keyfile)
                if self._context is not None:
                    log.info("admission webhook certificate reloaded")
                self._context, self._stamp = context, stamp
            return self._context


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], certificate: CertificateFiles,
                 routes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
        self.certificate = certificate
        self.routes = routes
        super().__init__(address, ReviewHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up, or failed the handshake (a wrong CA): not the operator's failure.
        log.debug("admission connection from %s failed", client_address[0], exc_info=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.settimeout(HANDSHAKE_TIMEOUT)
        # The handshake runs in the request's thread (first read), never in the accept loop.
        return self.certificate.context().wrap_socket(sock, server_side=True,
                                                      do_handshake_on_connect=False), address


class ReviewHandler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._send(404, {"error": f"no webhook at {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self._send(400, {"error": "an AdmissionReview body is required (at most 3 MiB)"})
            return
        try:
            answer = route(json.loads(self.rfile.read(length)))
        except (ValueError, AttributeError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, answer)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("admission %s " + format, self.client_address[0], *args)


# Every interface in the pod: the API server reaches it through the Service, at the pod's IP.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


def make_server(settings: Settings, reader: Reader, host: str = ALL_INTERFACES) -> WebhookServer:
    """The server, bound but not yet serving (port 0 picks a free one: server.server_address)."""
    if not settings.webhook_cert_file or not settings.webhook_key_file:
        raise ValueError("the admission webhook needs webhook_cert_file and webhook_key_file")
    certificate = CertificateFiles(settings.webhook_cert_file, settings.webhook_key_file)
    certificate.context()  # a missing or bad certificate fails at start-up, not at the first review
    routes = {
        TRAININGS_PATH: lambda body: review(body, reader, settings),
        INFERENCE_SERVICES_PATH: lambda body: review(body, reader, settings, INFERENCE_SERVICE.kind,
                                                     inference_service_problems),
    }
    return WebhookServer((host, settings.webhook_port), certificate, routes)


def start(settings: Settings, reader: Reader, host: str = ALL_INTERFACES) -> WebhookServer:
    """Serve in a daemon thread; server.shutdown() stops it."""
    server = make_server(settings, reader, host)
    threading.Thread(target=server.serve_forever, name="admission-webhook", daemon=True).start()
    log.info("admission webhook listening on %s:%d", *server.server_address[:2])
    return server

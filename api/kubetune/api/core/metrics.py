"""The facade's Prometheus metrics, served on their own port.

The API port authenticates every route but health, so metrics get a port of their own (like the
operator's), which the chart's ServiceMonitor scrapes and its NetworkPolicy can limit to Prometheus.
Requests are labelled by route template (`/api/v1/trainings/{training_id}`), never by the raw path, so
ids do not become series; a path no route matched counts as `unmatched`.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubetune.api.core.errors import family_for_path

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STREAMING = ("text/event-stream",)


class ApiMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("kubetune_api_requests", "HTTP requests by family, route, method and status.",
                                ["family", "route", "method", "status"], registry=r)
        self.latency = Histogram("kubetune_api_request_seconds", "Time to the response's first byte.",
                                 ["family", "route", "method"], buckets=BUCKETS, registry=r)
        self.in_flight = Gauge("kubetune_api_requests_in_flight", "Requests being answered (streams included).",
                               registry=r)
        self.streams = Gauge("kubetune_api_open_streams", "Open SSE streams (training events, generation).",
                             registry=r)

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a pod's metrics port
        start_http_server(port, addr=host, registry=self.registry)


def _route(scope: Scope) -> str:
    """The path with each path parameter put back as `{name}`.

    FastAPI resolves nested routers' prefixes while matching, so the matched route object knows only its
    own part of the path; the parameters the match produced give the template back from the real path.
    """
    if scope.get("endpoint") is None:
        return "unmatched"
    path = str(scope.get("path", ""))
    params = scope.get("path_params") or {}
    for name, value in sorted(params.items(), key=lambda kv: -len(str(kv[1]))):
        text = str(value)
        if not text:
            continue
        at = path.rfind("/" + text)
        end = at + 1 + len(text)
        if at >= 0 and (end == len(path) or path[end] == "/"):
            path = f"{path[:at]}/{{{name}}}{path[end:]}"
    return path


class MetricsMiddleware:
    """Counts every request once, after routing decided its template; health probes excluded."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in ("/healthz", "/readyz"):
            await self.app(scope, receive, send)
            return
        m, started, status, streaming = self.metrics, time.perf_counter(), 500, False
        method = scope.get("method", "")

        async def observe(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict(message.get("headers", []))
                streaming = headers.get(b"content-type", b"").split(b";")[0].decode() in STREAMING
                m.latency.labels(family_for_path(path), _route(scope), method).observe(
                    time.perf_counter() - started)
                if streaming:
                    m.streams.inc()
            await send(message)

        m.in_flight.inc()
        try:
            await self.app(scope, receive, observe)
        finally:
            m.in_flight.dec()
            if streaming:
                m.streams.dec()
            m.requests.labels(family_for_path(path), _route(scope), method, str(status)).inc()

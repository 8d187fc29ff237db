"""One JSON log line per request, in seed 002's shape, plus request metrics.

A plain ASGI middleware (not BaseHTTPMiddleware) so that streamed responses
are timed to their last byte and never buffered.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubetune.serve.devices import format_gigabytes, gpu_memory_used_bytes
from kubetune.serve.metrics import ServeMetrics

log = logging.getLogger("kubetune.serve.access")

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: debug level only
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """Seed 002's log shape: timestamp, level, message, details."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        details = getattr(record, "details", None)
        if details:
            line["details"] = details
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.match(candidate):
                return candidate
    return f"req_{uuid.uuid4().hex[:16]}"


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServeMetrics, model_version: str) -> None:
        self.app = app
        self.metrics = metrics
        self.model_version = model_version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, request_id, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, request_id: str, seconds: float) -> None:
        path: str = scope["path"]
        route = getattr(scope.get("route"), "path", None) or ("unmatched" if status == 404 else path)
        if path not in QUIET_PATHS:
            self.metrics.requests.labels(route=route, status=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(seconds)
        if path in QUIET_PATHS:
            level = logging.DEBUG
        elif status >= 500:
            level = logging.ERROR
        elif status >= 400:
            level = logging.WARNING
        else:
            level = logging.INFO
        if not log.isEnabledFor(level):
            return
        message = "Inference completed" if status < 400 else "Request failed"
        details = {
            "request_id": request_id,
            "processing_time": round(seconds, 4),
            "model_version": self.model_version,
            "gpu_memory_used": format_gigabytes(gpu_memory_used_bytes()),
            "method": scope["method"],
            "path": path,
            "status": status,
        }
        log.log(level, message, extra={"details": details})

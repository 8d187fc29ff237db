"""A request-body limit that holds before any parsing and before authentication.

FastAPI reads and parses a JSON body before it resolves a route's dependencies, so a limit
checked in a route (or after authentication) comes too late: an anonymous 400 MB body was
already in memory. This is a plain ASGI middleware in front of everything:

- a declared ``Content-Length`` over the limit is answered with 413 at once; the body is
  never read (uvicorn stops reading the socket once its small buffer is full, and a client
  that sent ``Expect: 100-continue`` is never told to continue);
- a body without a length (chunked) is counted as it arrives; the chunk that crosses the
  limit raises :class:`BodyTooLarge` instead of being delivered, so at most ``limit`` bytes
  ever reach the app.

Routes that stream (dataset uploads, the inference pass-through) get their own, larger
limits by path prefix; the upload route still enforces the upload limit while it streams.
The 413 keeps each API family's error body (see errors.py); the connection is closed, as
the rest of an oversized body is not worth reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubetune.api.core.errors import ApiError, error_body, family_for_path


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body crosses its limit.

    A FastAPI HTTPException on purpose: FastAPI re-raises those from its body parsing (any
    other exception there becomes a 400), and errors.py renders them in the family's shape.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes", headers={"Connection": "close"})
        self.limit = limit


class BodyLimitMiddleware:
    """Caps request bodies: `default` bytes, or the limit of the longest matching path prefix."""

    def __init__(self, app: ASGIApp, *, default: int, prefixes: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default = default
        # Longest prefix first, so a specific route wins over its family's prefix.
        self.prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.prefixes if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Raised where no handler turned it into a response (a streaming route, a proxy):
            # answer here if nothing was sent yet; otherwise let the server drop the connection.
            if started:
                raise
            await _refuse(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before the app sees it
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    path = scope.get("path", "")
    error = ApiError(413, f"request body exceeds the limit of {limit} bytes", details={"limit": limit})
    body: dict[str, Any] = error_body(family_for_path(path), error, path)
    response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)

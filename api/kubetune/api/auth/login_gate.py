"""Refuse a login flood before FastAPI parses it.

A login the route would refuse anyway (the client address has used up its failures, or every
bcrypt worker is busy and the queue is full) is answered here, from the request head: no body
read, no form parsing, no routing, no dependency resolution. A flood is then a few hundred
microseconds of loop time per request instead of a full request, so whatever else the loop serves
(`/healthz`, the other routes) waits behind far less. The route keeps the complete checks (the
per-user bucket needs the form's username, and it charges the attempt); this gate only reads.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from kubetune.api.auth.login import PasswordLogin

LOGIN_PATH = "/api/v1/auth/token"


class LoginGate:
    def __init__(self, app: ASGIApp, *, logins: PasswordLogin) -> None:
        self.app = app
        self.logins = logins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == LOGIN_PATH:
            refusal = self.refusal(scope)
            if refusal is not None:
                status, message, retry_after = refusal
                await _answer(send, status, message, retry_after)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, int] | None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = self.logins.throttle.address_wait(address)
        if wait:
            return 429, f"too many failed logins; try again in {wait} seconds", wait
        if self.logins.users.passwords.full():
            return 503, "too many logins in progress; try again shortly", 1
        return None


async def _answer(send: Send, status: int, message: str, retry_after: int) -> None:
    # The platform family's body (seed 003: {"detail": ...}), as errors.py renders it for the route.
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"retry-after", str(retry_after).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

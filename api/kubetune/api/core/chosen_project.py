"""Tell a client which project a request without a project parameter used.

Seed 001 and seed 003 routes take no project (or an optional one); with several projects the facade
falls back to the caller's default project, and the response says which one in the
``X-Kubetune-Project`` header. The choice is recorded in a per-request holder (a ContextVar holding a
mutable list, so a value recorded in a copied context — a dependency run in a thread — still arrives),
and this plain ASGI middleware adds the header when the response starts.
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Kubetune-Project"
_chosen: ContextVar[list[str] | None] = ContextVar("kubetune_chosen_project", default=None)


def record(project_key: str) -> None:
    """Remember the project the current request fell back to (no-op outside a request)."""
    holder = _chosen.get()
    if holder is not None:
        holder[:] = [project_key]


class ChosenProjectHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: list[str] = []
        token = _chosen.set(holder)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start" and holder:
                headers = list(message.get("headers", []))
                headers.append((HEADER.lower().encode(), holder[0].encode("latin-1", "replace")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            _chosen.reset(token)

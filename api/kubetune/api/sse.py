"""Server-sent events: id/event/data frames, keep-alive comments, and a disconnect-aware pump."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from kubetune.api.mapping.meta import is_number


def frame(data: Any, event: str | None = None, ident: str | None = None) -> str:
    lines = []
    if ident is not None:
        lines.append(f"id: {ident}")
    if event:
        lines.append(f"event: {event}")
    payload = data if isinstance(data, str) else json.dumps(data, default=str, ensure_ascii=False)
    lines.extend(f"data: {line}" for line in payload.split("\n"))
    return "\n".join(lines) + "\n\n"


KEEPALIVE = ": keep-alive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


async def with_keepalive(request: Request, frames: AsyncIterator[str], interval: float) -> AsyncIterator[str]:
    """Forward frames; send a comment whenever `interval` passes quietly; stop when the client leaves."""
    pending: asyncio.Task[str] | None = None
    iterator = frames.__aiter__()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if await request.is_disconnected():
                return
            if not done:
                yield KEEPALIVE
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            with contextlib.suppress(RuntimeError):
                await close()


def parse_last_event_id(value: str | None) -> int | None:
    return int(value) if value and is_number(value.strip()) else None

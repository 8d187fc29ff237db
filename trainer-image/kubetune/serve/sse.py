"""Server-sent events framing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_data(payload: Any) -> str:
    """One ``data:`` event; JSON on one line so no payload can break the framing."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n"


def parse_sse(body: str) -> list[str]:
    """The data of each event in ``body`` (for clients and tests)."""
    events = []
    for block in body.split("\n\n"):
        lines = [line[len("data: ") :] for line in block.splitlines() if line.startswith("data: ")]
        if lines:
            events.append("\n".join(lines))
    return events


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)

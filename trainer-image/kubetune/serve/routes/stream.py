"""Seed 002's streams: GET /stream (live server state) and POST /stream/infer (progressive results)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from kubetune.serve.deps import Engine
from kubetune.serve.devices import format_gigabytes, gpu_memory_used_bytes
from kubetune.serve.engine import InferenceEngine, iso_utc
from kubetune.serve.engines.base import Generation, GenerationRequest, Sampling
from kubetune.serve.errors import ApiError, error_body
from kubetune.serve.routes.infer import ERRORS, TEXT_TASKS
from kubetune.serve.schemas import StreamInferRequest
from kubetune.serve.sse import sse_data, sse_response

router = APIRouter(tags=["streaming"])

SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "Server-sent events."}
}


def live_state(engine: InferenceEngine) -> dict[str, Any]:
    queue = engine.admission.status()
    used = gpu_memory_used_bytes()
    return {
        "timestamp": iso_utc(datetime.now(UTC)),
        "model_ready": engine.runtime is not None,
        "model_version": engine.settings.model_version,
        "active_requests": queue.active_requests,
        "queued_requests": queue.queued_requests,
        "max_concurrent": queue.max_concurrent,
        "throughput": round(engine.throughput(), 3),
        "gpu_memory_used": format_gigabytes(used),
        "gpu_memory_used_bytes": used,
        "cache_entries": len(engine.cache),
    }


@router.get("/stream", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def stream_state(
    engine: Engine,
    interval: float = Query(default=1.0, ge=0.01, le=60, description="Seconds between events."),
    limit: int | None = Query(default=None, ge=1, description="Stop after this many events."),
) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        sent = 0
        while limit is None or sent < limit:
            if sent:
                await asyncio.sleep(interval)
            yield sse_data(live_state(engine))
            sent += 1

    return sse_response(events())


def word_prefixes(text: str, steps: int) -> list[tuple[str, float]]:
    """The text cut after growing shares of its words, with the share read; the last is the whole text."""
    words = text.split()
    count = min(steps, max(1, len(words)))
    prefixes = []
    for step in range(1, count + 1):
        share = step / count
        cut = max(1, math.ceil(len(words) * share))
        prefixes.append((text if step == count else " ".join(words[:cut]), round(share, 4)))
    return prefixes


async def _classifier_events(engine: InferenceEngine, body: StreamInferRequest) -> AsyncIterator[str]:
    """The score as the model reads more of the text; the final score is /infer's."""
    adapter = engine.resolve_adapter(body.model)
    prefixes = word_prefixes(body.text, engine.settings.stream_steps)
    for step, (prefix, progress) in enumerate(prefixes, start=1):
        if step > 1 and body.stream_interval:
            await asyncio.sleep(body.stream_interval)
        [score] = await engine.score_texts([prefix], adapter)
        if step < len(prefixes):
            yield sse_data({"step": step, "progress": progress, "partial_result": {"score": score.score}})
        else:
            final = {"score": score.score, "confidence": score.confidence}
            yield sse_data({"step": step, "progress": 1.0, "final_result": final})


async def _generation_events(engine: InferenceEngine, body: StreamInferRequest) -> AsyncIterator[str]:
    """Tokens as they are generated, then the whole text with its score."""
    adapter = engine.resolve_adapter(body.model)
    max_tokens = min(body.max_tokens or engine.settings.default_max_tokens, engine.settings.max_tokens_limit)
    request = GenerationRequest(body.text, max_tokens)
    step, text = 0, ""
    async for item in engine.stream_generate(request, Sampling(body.temperature, body.top_p), adapter):
        if isinstance(item, Generation):
            final = {
                "text": item.text,
                "score": item.score,
                "confidence": item.confidence,
                "completion_tokens": item.completion_tokens,
                "finish_reason": item.finish_reason,
            }
            yield sse_data({"step": step + 1, "progress": 1.0, "final_result": final})
            return
        step += 1
        text += item
        partial = {"token": item, "text": text}
        yield sse_data({"step": step, "progress": round(min(0.99, step / max_tokens), 4), "partial_result": partial})


async def _guarded(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """Errors after the response started become a last error event in seed 002's shape."""
    try:
        async for event in events:
            yield event
    except ApiError as error:
        yield sse_data(error_body(error.code, error.message, error.details))


@router.post("/stream/infer", response_class=StreamingResponse, responses={**ERRORS, **SSE_RESPONSE})
async def stream_infer(body: StreamInferRequest, engine: Engine) -> StreamingResponse:
    engine.require_task("/stream/infer", *TEXT_TASKS)
    engine.resolve_adapter(body.model)
    engine.check_capacity()
    if engine.settings.task == "causal-lm":
        return sse_response(_guarded(_generation_events(engine, body)))
    return sse_response(_guarded(_classifier_events(engine, body)))

"""OpenAI-compatible routes: /v1/models, /v1/completions and /v1/chat/completions (with streaming).

Chat prompts are rendered with the served tokenizer's own chat template.
Streams follow OpenAI's framing: chunks as ``data:`` events, then ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter

from kubetune.serve.deps import Engine
from kubetune.serve.engine import InferenceEngine
from kubetune.serve.engines.base import Generation, GenerationRequest, NoChatTemplateError, Sampling
from kubetune.serve.errors import ApiError, bad_request, unsupported_parameter
from kubetune.serve.openai_errors import openai_error_body
from kubetune.serve.openai_logprobs import chat_logprobs, completion_logprobs
from kubetune.serve.openai_params import NO_LOGPROBS, check_chat, check_completion, include_usage, logprobs_wanted
from kubetune.serve.openai_schemas import ChatCompletionRequest, CompletionRequest, _OpenAIRequest
from kubetune.serve.routes.infer import ERRORS
from kubetune.serve.sse import sse_data, sse_response
from kubetune.serve.stops import StopScanner, cut_at_stop

router = APIRouter(prefix="/v1", tags=["openai"])

Chunk = Callable[[str | None, str | None], dict[str, Any]]
Usage = Callable[[Generation], dict[str, Any]] | None


@router.get("/models")
async def list_models(engine: Engine) -> dict[str, Any]:
    created = int(engine.load_started.timestamp())
    return {
        "object": "list",
        "data": [
            {"id": model_id, "object": "model", "created": created, "owned_by": "kubetune"}
            for model_id in engine.model_ids()
        ],
    }


def _usage(generations: list[Generation], n: int) -> dict[str, int]:
    # n choices share their prompt: count each prompt once, as OpenAI does.
    prompt = sum(g.prompt_tokens for g in generations[::n])
    completion = sum(g.completion_tokens for g in generations)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish(generation: Generation, stops: list[str]) -> tuple[str, str]:
    text, stopped = cut_at_stop(generation.text, stops)
    return text, "stop" if stopped else generation.finish_reason


def _setup(engine: InferenceEngine, body: _OpenAIRequest, limit: int | None) -> tuple[str | None, Sampling, int]:
    runtime = engine.require_task("/v1 completions", "causal-lm")
    if logprobs_wanted(body) is not None and not runtime.supports_logprobs:
        raise unsupported_parameter("logprobs", NO_LOGPROBS)
    adapter = engine.resolve_adapter(body.model)
    max_tokens = min(limit or engine.settings.default_max_tokens, engine.settings.max_tokens_limit)
    return adapter, Sampling(body.temperature, body.top_p, body.seed), max_tokens


async def _stream(
    engine: InferenceEngine,
    request: GenerationRequest,
    sampling: Sampling,
    adapter: str | None,
    stops: list[str],
    chunk: Chunk,
    usage: Usage = None,
) -> AsyncIterator[str]:
    """OpenAI stream chunks: text deltas (held back where a stop string may begin), a finish, an
    optional usage chunk (stream_options.include_usage), [DONE]."""
    scanner = StopScanner(stops)
    try:
        async for item in engine.stream_generate(request, sampling, adapter):
            if isinstance(item, Generation):
                rest = scanner.flush()
                if rest:
                    yield sse_data(chunk(rest, None))
                yield sse_data(chunk(None, "stop" if scanner.stopped else item.finish_reason))
                if usage is not None:
                    yield sse_data(usage(item))
                break
            if scanner.stopped:
                continue  # past a stop string, usage asked: drain quietly to learn the token counts
            text = scanner.feed(item)
            if text:
                yield sse_data(chunk(text, None))
            if scanner.stopped and usage is None:
                yield sse_data(chunk(None, "stop"))
                break  # leaving the engine's stream stops the model thread
    except ApiError as error:
        param = error.details.get("param")
        yield sse_data(
            openai_error_body(error.status, error.code, error.message, param if isinstance(param, str) else None)
        )
    yield sse_data("[DONE]")


def _usage_chunk(base: dict[str, Any]) -> Usage:
    def usage(generation: Generation) -> dict[str, Any]:
        return {**base, "choices": [], "usage": _usage([generation], 1)}

    return usage


@router.post("/completions", responses=ERRORS)
async def completions(body: CompletionRequest, engine: Engine) -> Any:
    check_completion(body)
    adapter, sampling, max_tokens = _setup(engine, body, body.max_tokens)
    completion_id, created, model = (
        f"cmpl-{uuid.uuid4().hex}",
        int(time.time()),
        body.model or engine.settings.served_model_name,
    )
    if body.stream:
        if len(body.prompts) != 1:
            raise unsupported_parameter("prompt", "streaming supports one prompt only")
        engine.check_capacity()

        def chunk(text: str | None, finish: str | None) -> dict[str, Any]:
            choice = {"text": text or "", "index": 0, "logprobs": None, "finish_reason": finish}
            return {
                "id": completion_id,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [choice],
            }

        request = GenerationRequest(body.prompts[0], max_tokens)
        base = {"id": completion_id, "object": "text_completion", "created": created, "model": model}
        usage = _usage_chunk(base) if include_usage(body) else None
        return sse_response(_stream(engine, request, sampling, adapter, body.stops, chunk, usage))
    requests = [GenerationRequest(p, max_tokens, logprobs=body.logprobs) for p in body.prompts for _ in range(body.n)]
    generations = await engine.generate(requests, sampling, adapter)
    choices = []
    for index, generation in enumerate(generations):
        text, finish = _finish(generation, body.stops)
        logprobs = completion_logprobs(generation, text)
        choices.append({"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish})
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": _usage(generations, body.n),
    }


@router.post("/chat/completions", responses=ERRORS)
async def chat_completions(body: ChatCompletionRequest, engine: Engine) -> Any:
    check_chat(body)
    adapter, sampling, max_tokens = _setup(engine, body, body.token_limit)
    runtime = engine.require_runtime()
    messages = [message.for_template() for message in body.messages]
    try:
        prompt = await asyncio.to_thread(runtime.chat_prompt, messages)
    except NoChatTemplateError as error:
        raise ApiError(400, "NO_CHAT_TEMPLATE", str(error)) from error
    except Exception as error:  # a template that raises on these messages (e.g. role order)
        raise bad_request(f"The chat template rejected the messages: {error}") from error
    # The template already holds any special tokens the model expects.
    completion_id, created, model = (
        f"chatcmpl-{uuid.uuid4().hex}",
        int(time.time()),
        body.model or engine.settings.served_model_name,
    )
    if body.stream:
        engine.check_capacity()
        first = True

        def chunk(text: str | None, finish: str | None) -> dict[str, Any]:
            nonlocal first
            delta: dict[str, Any] = {}
            if first:
                delta["role"] = "assistant"
                first = False
            if text is not None:
                delta["content"] = text
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            }

        request = GenerationRequest(prompt, max_tokens, add_special_tokens=False)
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        usage = _usage_chunk(base) if include_usage(body) else None
        return sse_response(_stream(engine, request, sampling, adapter, body.stops, chunk, usage))
    wanted = logprobs_wanted(body)
    requests = [GenerationRequest(prompt, max_tokens, add_special_tokens=False, logprobs=wanted) for _ in range(body.n)]
    generations = await engine.generate(requests, sampling, adapter)
    choices = []
    for index, generation in enumerate(generations):
        text, finish = _finish(generation, body.stops)
        message = {"role": "assistant", "content": text}
        logprobs = chat_logprobs(generation, text)
        choices.append({"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish})
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": _usage(generations, body.n),
    }

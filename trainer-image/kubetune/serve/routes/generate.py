"""Seed 003's generate call, at POST /generate and at its own path /api/v1/inference/generate."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter

from kubetune.serve.deps import Engine
from kubetune.serve.engines.base import GenerationRequest, Sampling
from kubetune.serve.routes.infer import ERRORS
from kubetune.serve.schemas import GenerateRequest, GenerateResponse, Usage

router = APIRouter(tags=["generation"])


@router.post("/generate", response_model=GenerateResponse, responses=ERRORS)
@router.post("/api/v1/inference/generate", response_model=GenerateResponse, responses=ERRORS)
async def generate(body: GenerateRequest, engine: Engine) -> GenerateResponse:
    started = time.perf_counter()
    engine.require_task("generate", "causal-lm")
    adapter = engine.resolve_adapter(body.model_id)
    max_tokens = min(body.max_tokens or engine.settings.default_max_tokens, engine.settings.max_tokens_limit)
    [result] = await engine.generate(
        [GenerationRequest(body.prompt, max_tokens)], Sampling(body.temperature, body.top_p), adapter
    )
    return GenerateResponse(
        id=uuid.uuid4().hex[:8],
        model=body.model_id or engine.settings.served_model_name,
        prompt=body.prompt,
        output=result.text,
        usage=Usage(
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            total_tokens=result.prompt_tokens + result.completion_tokens,
        ),
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )

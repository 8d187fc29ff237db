"""POST /v1/embeddings: mean-pooled last hidden states of the served model (causal LMs and text
classifiers), unit length, as floats or base64 little-endian float32 (what the openai SDK asks for)."""

from __future__ import annotations

import base64
import struct
from typing import Any

from fastapi import APIRouter

from kubetune.serve.deps import Engine
from kubetune.serve.errors import unsupported_engine_task
from kubetune.serve.openai_params import embedding_texts
from kubetune.serve.openai_schemas import EmbeddingRequest
from kubetune.serve.routes.infer import ERRORS

router = APIRouter(prefix="/v1", tags=["openai"])


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


@router.post("/embeddings", responses=ERRORS)
async def embeddings(body: EmbeddingRequest, engine: Engine) -> dict[str, Any]:
    texts = embedding_texts(body)
    runtime = engine.require_task("/v1/embeddings", "causal-lm", "sequence-classification")
    if runtime.no_embeddings is not None:
        raise unsupported_engine_task("/v1/embeddings", runtime.no_embeddings)
    adapter = engine.resolve_adapter(body.model)
    results = await engine.embed_texts(texts, adapter)
    tokens = sum(r.tokens for r in results)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(r.vector, body.encoding_format)}
            for i, r in enumerate(results)
        ],
        "model": body.model or engine.settings.served_model_name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }

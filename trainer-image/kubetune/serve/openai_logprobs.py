"""Token log-probabilities in OpenAI's two shapes: legacy completions and chat completions.

A stop string cuts the text; the tokens kept are those that start before the cut.
"""

from __future__ import annotations

from typing import Any

from kubetune.serve.engines.base import Generation, TokenLogprob


def _kept(generation: Generation, text: str) -> tuple[TokenLogprob, ...]:
    kept: list[TokenLogprob] = []
    offset = 0
    for item in generation.logprobs or ():
        if offset >= len(text) and kept:
            break
        kept.append(item)
        offset += len(item.token)
    return tuple(kept)


def completion_logprobs(generation: Generation, text: str) -> dict[str, Any] | None:
    """``{"tokens", "token_logprobs", "top_logprobs", "text_offset"}`` of /v1/completions."""
    if generation.logprobs is None:
        return None
    tokens = _kept(generation, text)
    offsets, offset = [], 0
    for item in tokens:
        offsets.append(offset)
        offset += len(item.token)
    return {
        "tokens": [t.token for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [dict(t.top) for t in tokens],
        "text_offset": offsets,
    }


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def chat_logprobs(generation: Generation, text: str) -> dict[str, Any] | None:
    """``{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}`` of chat completions."""
    if generation.logprobs is None:
        return None
    return {
        "content": [
            {**_entry(t.token, t.logprob), "top_logprobs": [_entry(tok, lp) for tok, lp in t.top]}
            for t in _kept(generation, text)
        ],
        "refusal": None,
    }

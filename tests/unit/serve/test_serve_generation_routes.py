"""Generation routes on a real tiny Llama-style model with a LoRA adapter: seed 003, OpenAI, streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serve_helpers import serve

from kubetune.serve.engines.loader import load_runtime
from kubetune.serve.settings import ServeSettings
from kubetune.serve.sse import parse_sse

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tiny_lm: tuple[Path, Path]) -> ServeSettings:
    base, adapter = tiny_lm
    return ServeSettings(
        model_uri=str(base), adapters={"chat": str(adapter)}, task="causal-lm", model_name="tiny", max_batch_wait_ms=2
    )


@pytest.mark.parametrize("path", ["/generate", "/api/v1/inference/generate"])
async def test_seed_003_generate(settings: ServeSettings, path: str) -> None:
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post(
            path, json={"model_id": "tiny", "prompt": "What is machine learning?", "max_tokens": 6, "temperature": 0}
        )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "model", "prompt", "output", "usage", "latency_ms"}
    assert body["model"] == "tiny" and body["prompt"] == "What is machine learning?"
    usage = body["usage"]
    assert 1 <= usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body["latency_ms"] > 0


async def test_greedy_generation_is_batched_consistently(settings: ServeSettings) -> None:
    """Concurrent greedy requests (batched with left padding) give what each gives alone."""
    import asyncio

    prompts = ["The quick brown fox", "Two plus two", "Kubernetes runs containers in pods"]
    settings.cache_enabled = False
    settings.max_concurrent = 4
    settings.max_batch_wait_ms = 0
    async with serve(settings, load_runtime) as (client, engine):
        alone = []
        for prompt in prompts:
            reply = await client.post("/generate", json={"prompt": prompt, "max_tokens": 5, "temperature": 0})
            alone.append(reply.json()["output"])
        # Now hold a batch open until all three have arrived (it runs as soon as it is full).
        engine.batcher.max_batch_size = 3
        engine.batcher.max_wait_s = 30
        together = await asyncio.gather(
            *(client.post("/generate", json={"prompt": p, "max_tokens": 5, "temperature": 0}) for p in prompts)
        )
        metrics = (await client.get("/metrics")).text
    assert [r.json()["output"] for r in together] == alone
    assert 'kubetune_serve_batch_size_bucket{le="2.0"} 3.0' in metrics  # three singles, then one batch of three


async def test_stream_infer_yields_tokens_then_the_final_result(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post("/stream/infer", json={"text": "Hello there", "max_tokens": 6})
    events = [json.loads(e) for e in parse_sse(response.text)]
    partial = [e for e in events if "partial_result" in e]
    assert len(partial) >= 2
    final = events[-1]["final_result"]
    assert final["text"] == partial[-1]["partial_result"]["text"]
    assert 0 < final["score"] <= 1
    assert events[-1]["progress"] == 1.0


async def test_openai_models_and_completions(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        models = (await client.get("/v1/models")).json()
        completion = await client.post(
            "/v1/completions", json={"model": "tiny", "prompt": ["a", "b"], "max_tokens": 3, "temperature": 0}
        )
        chat = await client.post(
            "/v1/chat/completions",
            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "n": 2},
        )
    assert [m["id"] for m in models["data"]] == ["tiny", "chat"]
    body = completion.json()
    assert body["object"] == "text_completion"
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    chat_body = chat.json()
    assert chat_body["object"] == "chat.completion"
    assert len(chat_body["choices"]) == 2
    assert chat_body["choices"][0]["message"]["role"] == "assistant"


async def test_openai_stream_ends_with_done(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post(
            "/v1/completions", json={"model": "tiny", "prompt": "Hello", "max_tokens": 5, "stream": True}
        )
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


async def test_image_route_is_refused_for_a_language_model(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post("/infer/image", json={"image_url": "data:,x"})
    assert response.status_code == 400
    assert response.json()["error"] == "UNSUPPORTED_TASK"


async def test_infer_scores_text_by_inverse_perplexity(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        body = (await client.post("/infer", json={"text": "The quick brown fox"})).json()
    assert 0 < body["score"] <= 1
    assert 0 < body["confidence"] <= 1

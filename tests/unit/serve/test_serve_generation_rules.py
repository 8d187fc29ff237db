"""Generation rules on a torch-free echo model: caching only greedy output, stop sequences, streams."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable

import pytest
from serve_helpers import FakeLM, serve

from kubetune.serve.engines.base import Generation, GenerationRequest, Sampling
from kubetune.serve.settings import ServeSettings
from kubetune.serve.sse import parse_sse

pytestmark = pytest.mark.unit


def _settings() -> ServeSettings:
    return ServeSettings(model_uri="fake", model_name="echo", task="causal-lm", max_batch_wait_ms=0)


async def test_only_greedy_generation_is_cached() -> None:
    model = FakeLM()
    async with serve(_settings(), lambda _: model) as (client, _):
        for _ in range(2):
            await client.post("/generate", json={"prompt": "a b", "max_tokens": 3, "temperature": 0})
        assert model.generate_calls == 1
        for _ in range(2):
            await client.post("/generate", json={"prompt": "a b", "max_tokens": 3, "temperature": 0.7})
        assert model.generate_calls == 3


async def test_stop_sequences_cut_the_completion() -> None:
    async with serve(_settings(), lambda _: FakeLM()) as (client, _):
        plain = await client.post("/v1/completions", json={"prompt": "red green blue", "max_tokens": 6})
        stopped = await client.post(
            "/v1/completions", json={"prompt": "red green blue", "max_tokens": 6, "stop": [" blue"]}
        )
    assert plain.json()["choices"][0]["text"] == " red green blue red green blue"
    assert plain.json()["choices"][0]["finish_reason"] == "length"
    assert stopped.json()["choices"][0] == {"text": " red green", "index": 0, "logprobs": None, "finish_reason": "stop"}


async def test_streamed_chat_honours_stop_and_ends_with_done() -> None:
    async with serve(_settings(), lambda _: FakeLM()) as (client, _):
        response = await client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "one two three"}], "stream": True, "stop": "three"},
        )
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == " one two "
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_stream_infer_with_the_echo_model() -> None:
    async with serve(_settings(), lambda _: FakeLM()) as (client, _):
        response = await client.post("/stream/infer", json={"text": "x y", "max_tokens": 4})
    events = [json.loads(e) for e in parse_sse(response.text)]
    assert [e["partial_result"]["token"] for e in events[:-1]] == [" x", " y", " x", " y"]
    assert events[-1]["final_result"]["text"] == " x y x y"


async def test_streams_are_refused_up_front_when_full() -> None:
    settings = _settings()
    settings.max_concurrent, settings.queue_size = 1, 0
    async with serve(settings, lambda _: FakeLM()) as (client, engine):
        engine.admission.active = 1  # a request holds the only slot
        response = await client.post("/v1/completions", json={"prompt": "x", "stream": True})
        engine.admission.active = 0
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_requests"  # OpenAI's shape under /v1


class StallingLM(FakeLM):
    """Sends one word, then waits until the server asks it to stop."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = threading.Event()

    def stream_generate(
        self,
        request: GenerationRequest,
        sampling: Sampling,
        adapter: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> Generation:
        on_text(" first")
        for _ in range(3000):  # at most 30 s
            if should_stop():
                self.stopped.set()
                break
            threading.Event().wait(0.01)  # the fake model "computing", on the model thread
        return Generation(" first", 1, 1, "stop", 0.5, 0.5)


async def test_a_stream_past_the_timeout_ends_with_an_error_event_and_stops_the_model() -> None:
    settings = _settings()
    settings.timeout_seconds = 0.3
    model = StallingLM()
    async with serve(settings, lambda _: model) as (client, _):
        response = await client.post("/stream/infer", json={"text": "x", "max_tokens": 4})
    events = [json.loads(e) for e in parse_sse(response.text)]
    assert events[0]["partial_result"]["token"] == " first"
    assert events[-1]["error"] == "TIMEOUT"
    assert await asyncio.to_thread(model.stopped.wait, 30)

"""OpenAI behaviour that tells the truth: errors in OpenAI's shape that the openai SDK reads, parameters
the runtime cannot honour refused by name, the ones it can (seed, stop, n, include_usage) honoured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import openai
import pytest
from serve_helpers import FakeLM, serve

from kubetune.serve.settings import ServeSettings
from kubetune.serve.sse import parse_sse

pytestmark = pytest.mark.unit

CHAT = [{"role": "user", "content": "one two three"}]


def _settings(**overrides: Any) -> ServeSettings:
    return ServeSettings(model_uri="fake", model_name="echo", task="causal-lm", max_batch_wait_ms=0, **overrides)


@asynccontextmanager
async def openai_sdk() -> AsyncIterator[openai.AsyncOpenAI]:
    """The real openai client, talking to the app in process (in the test's own event loop)."""
    async with serve(_settings(), lambda _: FakeLM()) as (client, _):
        yield openai.AsyncOpenAI(base_url="http://serve.test/v1", api_key="unused", http_client=client,
                                 max_retries=0)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
         "response_format"),
        ({"logprobs": True}, "logprobs"),  # this stand-in engine returns none (the torch one does)
        ({"top_logprobs": 2}, "top_logprobs"),  # without logprobs: true
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logit_bias": {"42": 5}}, "logit_bias"),
    ],
)
async def test_unsupported_chat_parameters_are_400s_naming_the_parameter(extra: dict[str, Any], param: str) -> None:
    async with openai_sdk() as sdk:
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.chat.completions.create(model="echo", messages=CHAT, max_tokens=3, **extra)  # type: ignore[call-overload]
        error = caught.value
        assert error.status_code == 400
        assert error.param == param
        assert error.code == "unsupported_parameter"
        assert error.type == "invalid_request_error"
        assert isinstance(error.body, dict) and error.body["message"].startswith(f"{param}:")


async def test_unknown_arguments_are_refused_not_ignored() -> None:
    async with openai_sdk() as sdk:
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.completions.create(model="echo", prompt="a", max_tokens=2, extra_body={"guided_regex": "a+"})
        assert caught.value.param == "guided_regex"
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.completions.create(model="echo", prompt="a", max_tokens=2, logprobs=1)
        assert caught.value.param == "logprobs"


async def test_no_op_values_are_accepted() -> None:
    async with openai_sdk() as sdk:
        reply = await sdk.chat.completions.create(
            model="echo", messages=CHAT, max_tokens=2, temperature=0, presence_penalty=0, frequency_penalty=0,
            tool_choice="none", response_format={"type": "text"}, logprobs=False, user="someone",
        )
        assert reply.choices[0].message.content == " one two"


async def test_errors_carry_message_type_param_and_code() -> None:
    async with openai_sdk() as sdk:
        with pytest.raises(openai.NotFoundError) as missing:
            await sdk.chat.completions.create(model="nope", messages=CHAT)
        assert missing.value.code == "model_not_found"
        assert "No model 'nope'" in missing.value.message
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk.chat.completions.create(model="echo", messages=CHAT, temperature=5)
        assert bad.value.param == "temperature"
        assert bad.value.code == "invalid_value"
        with pytest.raises(openai.BadRequestError) as streamed_n:
            await sdk.chat.completions.create(model="echo", messages=CHAT, n=2, stream=True)
        assert streamed_n.value.param == "n"


async def test_openai_error_shape_on_every_v1_failure_and_seed_002_shape_elsewhere() -> None:
    async with serve(_settings(), lambda _: FakeLM()) as (client, _):
        missing_route = await client.get("/v1/nothing-here")
        malformed = await client.post("/v1/completions", content=b"{not json",
                                      headers={"content-type": "application/json"})
        seed_002 = await client.post("/generate", json={"prompt": "x", "temperature": 9})
    assert missing_route.status_code == 404
    assert set(missing_route.json()["error"]) == {"message", "type", "param", "code"}
    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "invalid_request_error"
    assert seed_002.status_code == 422
    assert seed_002.json()["error"] == "VALIDATION_ERROR"


async def test_unauthenticated_calls_get_openai_authentication_errors(tmp_path: Any) -> None:
    keys = tmp_path / "keys"
    keys.write_text("right\n")
    async with serve(_settings(api_key_file=keys), lambda _: FakeLM()) as (client, _):
        sdk = openai.AsyncOpenAI(base_url="http://serve.test/v1", api_key="wrong", http_client=client,
                                 max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.models.list()
    assert caught.value.type == "authentication_error"
    assert caught.value.code == "unauthorized"


async def test_seed_and_n_reach_the_runtime() -> None:
    model = FakeLM()
    seen: list[Any] = []
    original = model.generate

    def recording(requests: Any, sampling: Any, adapter: Any) -> Any:
        seen.append((len(requests), sampling))
        return original(requests, sampling, adapter)

    model.generate = recording  # type: ignore[method-assign]
    async with serve(_settings(), lambda _: model) as (client, _):
        body = {"prompt": "a b", "max_tokens": 2, "temperature": 0.8, "seed": 7, "n": 3}
        response = await client.post("/v1/completions", json=body)
    assert response.status_code == 200
    assert len(response.json()["choices"]) == 3
    assert seen == [(3, seen[0][1])] and seen[0][1].seed == 7  # one batch of its own, seeded


async def test_streamed_usage_when_asked() -> None:
    async with serve(_settings(), lambda _: FakeLM()) as (client, _):
        response = await client.post("/v1/chat/completions", json={
            "messages": CHAT, "max_tokens": 4, "stream": True, "stop": "three",
            "stream_options": {"include_usage": True}})
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == " one two "
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


async def test_stream_errors_are_openai_error_events() -> None:
    settings = _settings()
    settings.max_concurrent, settings.queue_size = 1, 0
    async with serve(settings, lambda _: FakeLM()) as (client, engine):
        engine.admission.active = 1  # a request holds the only slot
        response = await client.post("/v1/completions", json={"prompt": "x", "stream": True})
        engine.admission.active = 0
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert response.json()["error"]["code"] == "too_many_requests"

"""OpenAI parameters on the vllm engine, through kubetune's routes and the openai SDK, against a scripted vLLM:
seed (with n) and logprobs/top_logprobs pass through to vLLM and come back; /v1/embeddings is a 400 that says
why (vLLM embeds only with a pooling model, a server of its own)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from serve_helpers import serve

from kubetune.serve.engines.vllm.client import VLLMClient
from kubetune.serve.engines.vllm.runtime import NO_EMBEDDINGS, VLLMRuntime
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit
CHAT = [{"role": "user", "content": "hello"}]


class SeededVLLM:
    """vLLM's sampling as far as these parameters go: one generator per request, seeded by ``seed``, that
    draws the request's n samples in turn; so n samples differ, and the same seed repeats them."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.unseeded = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "base"}]})
        assert request.url.path == "/v1/completions", request.url.path
        body = json.loads(request.content)
        self.bodies.append(body)
        n = body.get("n", 1)
        choices = []
        for p, _prompt in enumerate(body["prompt"]):
            if body.get("seed") is None:
                self.unseeded += 1
            for j in range(n):
                draw = f"s{body['seed']}d{j}" if body.get("seed") is not None else f"u{self.unseeded}d{j}"
                words = [f" {draw}w{k}" for k in range(body["max_tokens"])]
                choice: dict[str, Any] = {"index": p * n + j, "text": "".join(words), "finish_reason": "length",
                                          "token_ids": [100 + k for k in range(len(words))]}
                if body.get("logprobs") is not None:
                    # the chosen token and the most likely others, as vLLM lists them
                    tops = [dict(list({w: -0.1, " alt": -2.5, " other": -3.0}.items())[: body["logprobs"] + 1])
                            for w in words]
                    choice["logprobs"] = {"tokens": words, "token_logprobs": [-0.1] * len(words),
                                          "top_logprobs": tops}
                choices.append(choice)
        return httpx.Response(200, json={"choices": list(reversed(choices))})


@asynccontextmanager
async def sdk_on_vllm(tiny_lm: tuple[Path, Path], vllm: SeededVLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm[0])

    def load(_: ServeSettings) -> VLLMRuntime:
        client = VLLMClient("http://vllm.test", transport=httpx.MockTransport(vllm))
        return VLLMRuntime(client, tokenizer, "base", 64, [])

    settings = ServeSettings(model_uri="fake", model_name="base", task="causal-lm", max_batch_wait_ms=0)
    async with serve(settings, load) as (client, _):
        yield openai.AsyncOpenAI(base_url="http://serve.test/v1", api_key="unused", http_client=client, max_retries=0)


async def test_seed_and_n_go_to_vllm_as_one_seeded_request_whose_samples_differ_and_repeat(
        tiny_lm: tuple[Path, Path]) -> None:
    vllm = SeededVLLM()
    async with sdk_on_vllm(tiny_lm, vllm) as sdk:
        first = await sdk.chat.completions.create(model="base", messages=CHAT, max_tokens=2, temperature=0.8,
                                                  seed=7, n=3)
        again = await sdk.chat.completions.create(model="base", messages=CHAT, max_tokens=2, temperature=0.8,
                                                  seed=7, n=3)
    texts = [c.message.content for c in first.choices]
    assert len(set(texts)) == 3  # n samples, not n copies of one seeded draw
    assert [c.message.content for c in again.choices] == texts  # the seed repeats them
    sent = vllm.bodies[-1]
    assert (sent["seed"], sent["n"], len(sent["prompt"]), sent["temperature"]) == (7, 3, 1, 0.8)


async def test_distinct_prompts_of_one_seeded_request_each_get_the_seed(tiny_lm: tuple[Path, Path]) -> None:
    vllm = SeededVLLM()
    async with sdk_on_vllm(tiny_lm, vllm) as sdk:
        reply = await sdk.completions.create(model="base", prompt=["one", "two words"], max_tokens=2,
                                             temperature=0.9, seed=3)
    assert [b["seed"] for b in vllm.bodies] == [3, 3] and all(b["n"] == 1 for b in vllm.bodies)
    assert [c.index for c in reply.choices] == [0, 1]


async def test_logprobs_and_top_logprobs_come_from_vllm(tiny_lm: tuple[Path, Path]) -> None:
    vllm = SeededVLLM()
    async with sdk_on_vllm(tiny_lm, vllm) as sdk:
        reply = await sdk.chat.completions.create(model="base", messages=CHAT, max_tokens=2, temperature=0,
                                                  logprobs=True, top_logprobs=2)
        legacy = await sdk.completions.create(model="base", prompt="hi", max_tokens=2, temperature=0, logprobs=1)
    assert vllm.bodies[0]["logprobs"] == 2 and vllm.bodies[1]["logprobs"] == 1
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None and [t.logprob for t in content] == [pytest.approx(-0.1)] * 2
    assert [[(a.token, a.logprob) for a in t.top_logprobs] for t in content] == [
        [(content[0].token, pytest.approx(-0.1)), (" alt", pytest.approx(-2.5))],
        [(content[1].token, pytest.approx(-0.1)), (" alt", pytest.approx(-2.5))]]
    assert legacy.choices[0].logprobs is not None
    assert legacy.choices[0].logprobs.token_logprobs == [pytest.approx(-0.1)] * 2


async def test_embeddings_are_refused_naming_the_reason(tiny_lm: tuple[Path, Path]) -> None:
    vllm = SeededVLLM()
    async with sdk_on_vllm(tiny_lm, vllm) as sdk:
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.embeddings.create(model="base", input="hello")
    error = refused.value
    assert (error.code, error.param, error.type) == ("unsupported_task", "model", "invalid_request_error")
    assert error.body == {"message": f"/v1/embeddings is not available here: {NO_EMBEDDINGS}", "type": error.type,
                          "param": "model", "code": "unsupported_task"}
    assert vllm.bodies == []  # nothing reached vLLM

"""The vLLM runtime against a scripted vLLM (httpx MockTransport): what it sends, how it reads answers."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubetune.serve.engines.base import GenerationRequest, Sampling
from kubetune.serve.engines.loader import ModelLoadError, load_runtime
from kubetune.serve.engines.vllm.client import VLLMClient, VLLMError
from kubetune.serve.engines.vllm.process import VLLMProcess, vllm_arguments, vllm_environment
from kubetune.serve.engines.vllm.runtime import VLLMRuntime, mean_score, step_logprobs
from kubetune.serve.settings import ServeSettings


class ScriptedVLLM:
    """Answers like vLLM's OpenAI server and records every request body."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.loaded: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        self.calls.append((path, body))
        if path == "/health":
            return httpx.Response(200)
        if path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "base"}, *({"id": n} for n in sorted(self.loaded))]})
        if path == "/v1/load_lora_adapter":
            self.loaded.add(body["lora_name"])
            return httpx.Response(200, text="ok")
        if path == "/v1/unload_lora_adapter":
            if body["lora_name"] not in self.loaded:
                return httpx.Response(404, json={"error": {"message": "no such adapter"}})
            self.loaded.discard(body["lora_name"])
            return httpx.Response(200, text="ok")
        if path == "/v1/completions":
            if body["model"] not in {"base", *self.loaded}:
                return httpx.Response(404, json={"error": {"message": f"model {body['model']} does not exist"}})
            if body.get("stream"):
                return self._stream(body)
            return httpx.Response(
                200, json={"choices": [self._choice(i, p, body) for i, p in reversed(list(enumerate(body["prompt"])))]}
            )
        return httpx.Response(404)

    eos_id = 2

    def _choice(self, index: int, prompt: list[int], body: dict[str, Any]) -> dict[str, Any]:
        generated = ["a", "b", "c"][: body["max_tokens"]]
        logprobs = [math.log(0.5)] * len(generated)
        tops = [{"x": math.log(0.5), "y": math.log(0.25)} for _ in generated]
        if body.get("echo"):
            # the prompt's own log-probabilities: none for the first token, then p = 0.25 each
            return {
                "index": index,
                "text": "",
                "finish_reason": "length",
                "logprobs": {
                    "token_logprobs": [None] + [math.log(0.25)] * (len(prompt) - 1) + logprobs,
                    "top_logprobs": [None] + [{"y": math.log(0.75)}] * (len(prompt) - 1) + tops,
                },
            }
        ids = [100 + k for k in range(len(generated))]
        finish = "length" if body["max_tokens"] <= 3 else "stop"
        if finish == "stop":  # the end-of-sequence token is generated (and has a probability) but shows no text
            ids, logprobs, tops = [*ids, self.eos_id], [*logprobs, math.log(0.5)], [*tops, {"</s>": math.log(0.5)}]
        choice: dict[str, Any] = {
            "index": index,
            "text": "".join(generated) + f"#{len(prompt)}",
            "finish_reason": finish,
            "logprobs": None,
        }
        if body.get("return_token_ids"):
            choice["token_ids"] = ids
        if body.get("logprobs") is not None:
            choice["logprobs"] = {
                "tokens": [*generated, "</s>"][: len(ids)],
                "token_logprobs": logprobs,
                "top_logprobs": tops,
            }
        return choice

    def _stream(self, body: dict[str, Any]) -> httpx.Response:
        chunks = [
            {
                "choices": [
                    {
                        "index": 0,
                        "text": t,
                        "logprobs": {"token_logprobs": [math.log(0.5)], "top_logprobs": [{t: math.log(0.5)}]},
                        "finish_reason": None,
                    }
                ]
            }
            for t in ("x", "y")
        ]
        chunks[-1]["choices"][0]["finish_reason"] = "length"
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})


@pytest.fixture
def vllm() -> ScriptedVLLM:
    return ScriptedVLLM()


@pytest.fixture
def runtime(tiny_lm: tuple[Path, Path], vllm: ScriptedVLLM) -> VLLMRuntime:
    from transformers import AutoTokenizer

    client = VLLMClient("http://vllm.test", transport=httpx.MockTransport(vllm))
    runtime = VLLMRuntime(client, AutoTokenizer.from_pretrained(tiny_lm[0]), "base", 64, [])
    vllm.eos_id = next(iter(runtime.eos_ids))
    return runtime


def test_a_batch_is_one_completions_call_of_token_ids(runtime: VLLMRuntime, vllm: ScriptedVLLM) -> None:
    requests = [GenerationRequest("hello there", 3), GenerationRequest("a longer prompt here", 3)]
    out = runtime.generate(requests, Sampling(), None)
    [(_path, body)] = [c for c in vllm.calls if c[0] == "/v1/completions"]
    assert body["model"] == "base" and body["max_tokens"] == 3 and body["temperature"] == 0.0
    # counts from the generated ids; no log-probabilities unless a request asks (they cost vLLM time)
    assert body["return_token_ids"] is True and "logprobs" not in body
    expected = [runtime.tokenizer(r.prompt)["input_ids"] for r in requests]
    assert body["prompt"] == expected
    # choices come back out of order: each generation still belongs to its own prompt
    assert [g.text for g in out] == [f"abc#{len(p)}" for p in expected]
    assert [g.prompt_tokens for g in out] == [len(p) for p in expected]
    assert all(g.completion_tokens == 3 and g.finish_reason == "length" and g.logprobs is None for g in out)


def test_logprobs_when_a_request_asks(runtime: VLLMRuntime, vllm: ScriptedVLLM) -> None:
    [plain, asking] = runtime.generate(
        [GenerationRequest("hi", 3), GenerationRequest("ho", 3, logprobs=1)], Sampling(), None
    )
    assert vllm.calls[-1][1]["logprobs"] == 1
    assert plain.logprobs is None
    assert asking.logprobs is not None and [t.token for t in asking.logprobs] == ["a", "b", "c"]
    assert asking.logprobs[0].logprob == pytest.approx(math.log(0.5))
    assert asking.logprobs[0].top == (("x", pytest.approx(math.log(0.5))),)  # the one most likely alternative
    assert asking.score == pytest.approx(0.5) and asking.confidence == pytest.approx(0.5)


def test_end_of_sequence_is_not_counted_as_a_completion_token(runtime: VLLMRuntime) -> None:
    [gen] = runtime.generate([GenerationRequest("hi", 10)], Sampling(temperature=0.7, top_p=0.9), None)
    assert gen.finish_reason == "stop" and gen.completion_tokens == 3


def test_sampling_and_adapter_reach_vllm(runtime: VLLMRuntime, vllm: ScriptedVLLM, tiny_lm: tuple[Path, Path]) -> None:
    runtime.load_adapter("support", tiny_lm[1])
    assert vllm.calls[-1] == ("/v1/load_lora_adapter", {"lora_name": "support", "lora_path": str(tiny_lm[1])})
    assert runtime.adapters == ["support"]
    runtime.generate([GenerationRequest("hi", 2)], Sampling(temperature=0.7, top_p=0.9), "support")
    sent: dict[str, Any] = vllm.calls[-1][1]
    assert {k: sent[k] for k in ("model", "temperature", "top_p")} == {
        "model": "support",
        "temperature": 0.7,
        "top_p": 0.9,
    }
    runtime.unload_adapter("support")
    assert runtime.adapters == []
    with pytest.raises(VLLMError, match="404"):
        runtime.generate([GenerationRequest("hi", 2)], Sampling(), "support")


def test_different_lengths_in_one_batch_go_as_separate_calls(runtime: VLLMRuntime, vllm: ScriptedVLLM) -> None:
    out = runtime.generate([GenerationRequest("one", 1), GenerationRequest("two", 2)], Sampling(), None)
    bodies = [b for p, b in vllm.calls if p == "/v1/completions"]
    assert [b["max_tokens"] for b in bodies] == [1, 2]
    assert [g.completion_tokens for g in out] == [1, 2]


def test_scores_are_the_prompt_log_probabilities(runtime: VLLMRuntime, vllm: ScriptedVLLM) -> None:
    [score] = runtime.score_texts(["some text to score"], None)
    body = vllm.calls[-1][1]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 1
    assert body["prompt"][0][0] == runtime.prefix_id  # scored after BOS, like the transformers runtime
    # every prompt token after the first had p = 0.25, top choice 0.75; the generated token is left out
    assert score.score == pytest.approx(0.25) and score.confidence == pytest.approx(0.75)


def test_stream_hands_over_deltas_and_finishes(runtime: VLLMRuntime) -> None:
    seen: list[str] = []
    gen = runtime.stream_generate(GenerationRequest("hi", 2), Sampling(), None, seen.append, lambda: False)
    assert seen == ["x", "y"] and gen.text == "xy" and gen.finish_reason == "length" and gen.completion_tokens == 2


def test_chat_prompt_uses_the_local_tokenizer(runtime: VLLMRuntime) -> None:
    prompt = runtime.chat_prompt([{"role": "user", "content": "hello"}])
    assert "hello" in prompt


def test_logprob_helpers() -> None:
    chosen, top = step_logprobs({"token_logprobs": [None, -1.0, -2.0], "top_logprobs": [None, {"a": -0.5}, {}]})
    assert chosen == [-1.0, -2.0] and top == [-0.5, -2.0]  # a step without alternatives: the chosen one is top
    assert mean_score([], []) == (1.0, 1.0)
    assert mean_score([math.log(0.5)], [math.log(0.5)]) == (0.5, 0.5)


def test_vllm_engine_refuses_a_classifier(tiny_lm: tuple[Path, Path]) -> None:
    settings = ServeSettings(model_uri=str(tiny_lm[0]), engine="vllm", task="sequence-classification")
    with pytest.raises(ModelLoadError, match="causal-lm"):
        load_runtime(settings)


def test_unreachable_vllm_is_a_load_error(tiny_lm: tuple[Path, Path]) -> None:
    # port 9 on loopback: nothing listens there, so the wait gives up at its (short) deadline
    settings = ServeSettings(
        model_uri=str(tiny_lm[0]), engine="vllm", vllm_url="http://127.0.0.1:9", vllm_start_timeout_seconds=0.01
    )
    with pytest.raises(ModelLoadError, match="did not become healthy"):
        load_runtime(settings)


def test_vllm_arguments_name_the_model_and_listen_on_loopback(tmp_path: Path) -> None:
    args = vllm_arguments(tmp_path, "tiny", "http://127.0.0.1:8123", True, ["--max-loras", "4"])
    assert args == [
        str(tmp_path),
        "--served-model-name",
        "tiny",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--enable-lora",
        "--max-loras",
        "4",
    ]
    assert vllm_environment({})["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"


def test_a_vllm_child_that_dies_before_ready_is_a_load_error(tiny_lm: tuple[Path, Path]) -> None:
    # A real child process standing in for vLLM that exits at once: the wait says so instead of timing out.
    settings = ServeSettings(
        model_uri=str(tiny_lm[0]),
        engine="vllm",
        vllm_url="http://127.0.0.1:9",
        vllm_command=[sys.executable, "-c", "raise SystemExit(3)", "--"],
    )
    with pytest.raises(ModelLoadError, match="exited with code 3"):
        load_runtime(settings)


def test_stopping_the_child_ends_it(tmp_path: Path) -> None:
    process = VLLMProcess([sys.executable, "-c", "import time; time.sleep(600)"], [], exit_with_child=False)
    process.start()
    assert process.exited() is None
    process.stop(timeout_s=10)
    assert process.exited() is not None

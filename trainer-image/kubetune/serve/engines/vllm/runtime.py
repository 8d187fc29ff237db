"""The vLLM runtime: kubetune's ModelRuntime calls, answered by vLLM's OpenAI server.

The model lives in vLLM only; kubetune loads the tokenizer alone (chat templates, token counts, the same
truncation as the transformers runtime). A dynamic batch becomes one /v1/completions call holding every
prompt, and vLLM's continuous batching takes it from there. Scores are those of the transformers runtime:
exp(mean log-probability) of the chosen tokens, and the mean probability of the top choice, both from
the log-probabilities vLLM returns (``logprobs: 1`` gives the chosen and the top token at each step).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubetune.serve.engines.base import (
    Generation,
    GenerationRequest,
    ModelRuntime,
    NoChatTemplateError,
    Sampling,
    Score,
    TokenLogprob,
)
from kubetune.serve.engines.vllm.client import VLLMClient, VLLMError
from kubetune.serve.engines.vllm.process import VLLMProcess

log = logging.getLogger(__name__)


def step_logprobs(logprobs: dict[str, Any] | None, skip: int = 0) -> tuple[list[float], list[float]]:
    """(chosen, top) log-probabilities per token from an OpenAI completion's ``logprobs``, from ``skip`` on."""
    if not logprobs:
        return [], []
    chosen_all = logprobs.get("token_logprobs") or []
    top_all = logprobs.get("top_logprobs") or []
    chosen: list[float] = []
    top: list[float] = []
    for index in range(skip, len(chosen_all)):
        value = chosen_all[index]
        if value is None:  # the first prompt token has no probability
            continue
        alternatives = top_all[index] if index < len(top_all) and top_all[index] else {}
        best = max([value, *alternatives.values()])
        chosen.append(max(float(value), -1e9))  # vLLM writes -inf as a huge negative number
        top.append(max(float(best), -1e9))
    return chosen, top


def mean_score(chosen: Sequence[float], top: Sequence[float]) -> tuple[float, float]:
    """exp(mean log p) of the chosen tokens and the mean top-1 probability; (1, 1) for no tokens."""
    if not chosen:
        return 1.0, 1.0
    score = math.exp(sum(chosen) / len(chosen))
    confidence = sum(math.exp(t) for t in top) / len(top)
    return round(score, 6), round(confidence, 6)


NO_EMBEDDINGS = (
    "the vllm engine runs this model for generation, and vLLM serves embeddings only for a model it runs as a "
    "pooling model (a server of its own); serve the model with runtime kubetune, whose /v1/embeddings pools a "
    "causal LM's hidden states"
)


class VLLMRuntime(ModelRuntime):
    task = "causal-lm"
    supports_logprobs = True
    no_embeddings = NO_EMBEDDINGS

    def __init__(
        self, client: VLLMClient, tokenizer: Any, model_name: str, max_input_tokens: int, adapters: Sequence[str]
    ) -> None:
        self.client = client
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.max_input_tokens = max_input_tokens
        self.adapters = list(adapters)
        self.device = "vllm"
        self.process: VLLMProcess | None = None  # set when this server started vLLM itself
        eos = tokenizer.eos_token_id
        self.eos_ids = {int(eos)} if eos is not None else set()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0)
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.pad_id
        self.prefix_id = int(prefix)

    @classmethod
    def load(
        cls,
        base: Path,
        adapters: dict[str, Path],
        url: str,
        model_name: str,
        max_input_tokens: int,
        start_timeout_s: float,
        process: VLLMProcess | None = None,
    ) -> VLLMRuntime:
        """Wait for vLLM (it loads the model in its own process meanwhile), then load the adapters into it."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base)
        client = VLLMClient(url)
        wait_until_healthy(client, start_timeout_s, process)
        runtime = cls(client, tokenizer, model_name, max_input_tokens, [])
        runtime.process = process
        if process is not None:
            process.armed.set()
        for name, path in adapters.items():
            runtime.load_adapter(name, path)
        return runtime

    def close(self) -> None:
        self.client.close()
        if self.process is not None:
            self.process.stop()

    # Adapters (engines/adapters.py calls these on the model thread)
    def load_adapter(self, name: str, path: Path) -> None:
        self.client.load_lora_adapter(name, str(path))
        if name not in self.adapters:
            self.adapters = [*self.adapters, name]

    def unload_adapter(self, name: str) -> None:
        self.client.unload_lora_adapter(name)
        self.adapters = [a for a in self.adapters if a != name]

    # Tokens
    def _encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        return ids[-self.max_input_tokens :]

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise NoChatTemplateError("the served tokenizer has no chat template")
        prompt: str = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return prompt

    def _model(self, adapter: str | None) -> str:
        return adapter or self.model_name

    # Scoring: the prompt's own log-probabilities (echo), one generated token that is thrown away.
    def score_texts(self, texts: list[str], adapter: str | None) -> list[Score]:
        sequences = []
        for text in texts:
            ids = self._encode(text)
            sequences.append(ids if ids and ids[0] == self.prefix_id else [self.prefix_id, *ids])
        body = {
            "model": self._model(adapter),
            "prompt": sequences,
            "max_tokens": 1,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        choices = sorted(self.client.completions(body)["choices"], key=lambda c: c["index"])
        results = []
        for sequence, choice in zip(sequences, choices, strict=True):
            logprobs = choice.get("logprobs") or {}
            # The echoed prompt, less the one generated token at the end.
            cut = dict(logprobs)
            for field in ("token_logprobs", "top_logprobs"):
                cut[field] = (logprobs.get(field) or [])[: len(sequence)]
            chosen, top = step_logprobs(cut, skip=1)
            score, confidence = mean_score(chosen, top)
            results.append(Score(score, confidence))
        return results

    # Generation
    def _body(
        self,
        prompts: list[list[int]],
        sampling: Sampling,
        max_tokens: int,
        adapter: str | None,
        logprobs: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model(adapter),
            "prompt": prompts,
            "max_tokens": max_tokens,
            "temperature": sampling.temperature if not sampling.greedy else 0.0,
            "top_p": sampling.top_p if not sampling.greedy else 1.0,
            "skip_special_tokens": True,
            # The generated ids: exact token counts without asking for log-probabilities, which cost vLLM a
            # log-softmax and a detokenised alternative per token (bench_vllm.py: about a fifth of throughput).
            "return_token_ids": True,
        }
        if logprobs is not None:
            body["logprobs"] = logprobs
        seed = getattr(sampling, "seed", None)
        if seed is not None and not sampling.greedy:
            body["seed"] = seed
        return body

    def _generation(self, choice: dict[str, Any], prompt_tokens: int, want: int | None) -> Generation:
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        ids: list[int] | None = choice.get("token_ids")
        lp = choice.get("logprobs") or {}
        chosen, top = step_logprobs(lp)
        count = len(ids) if ids is not None else len(chosen)
        # An end-of-sequence token is generated (and counted by vLLM) but is no part of the text.
        ended = finish == "stop" and (ids[-1] in self.eos_ids if ids else bool(chosen))
        count -= 1 if ended and count else 0
        # Score and confidence come from log-probabilities: computed when the request asked for them (no route
        # shows them for a batched generation otherwise); streams always ask (/stream/infer shows them).
        score, confidence = mean_score(chosen[:count], top[:count])
        logprobs = None
        if want is not None:
            tokens = lp.get("tokens") or []
            alternatives = lp.get("top_logprobs") or []
            logprobs = tuple(
                TokenLogprob(
                    str(tokens[i]),
                    chosen[i],
                    tuple(sorted((alternatives[i] or {}).items(), key=lambda kv: -kv[1])[:want])
                    if i < len(alternatives)
                    else (),
                )
                for i in range(min(count, len(tokens), len(chosen)))
            )
        return Generation(choice.get("text") or "", prompt_tokens, count, finish, score, confidence, logprobs)

    def generate(self, requests: list[GenerationRequest], sampling: Sampling, adapter: str | None) -> list[Generation]:
        prompts = [self._encode(r.prompt, r.add_special_tokens) or [self.prefix_id] for r in requests]
        if sampling.seed is not None and not sampling.greedy and len(requests) > 1:
            return self._seeded(prompts, requests, sampling, adapter)
        wanted = [r.logprobs for r in requests if r.logprobs is not None]
        logprobs = max(wanted) if wanted else None
        limits = {r.max_new_tokens for r in requests}
        if len(limits) == 1:
            body = self._body(prompts, sampling, limits.pop(), adapter, logprobs)
            choices = sorted(self.client.completions(body)["choices"], key=lambda c: c["index"])
            return [self._generation(c, len(p), r.logprobs) for c, p, r in zip(choices, prompts, requests, strict=True)]
        # Different lengths in one batch: one call each (vLLM's own batching still runs them together only
        # when they overlap, which they do when this thread is not the bottleneck).
        return [
            self._generation(
                self.client.completions(self._body([p], sampling, r.max_new_tokens, adapter, r.logprobs))["choices"][0],
                len(p),
                r.logprobs,
            )
            for p, r in zip(prompts, requests, strict=True)
        ]

    def _seeded(self, prompts: list[list[int]], requests: list[GenerationRequest], sampling: Sampling,
                adapter: str | None) -> list[Generation]:
        """A seeded batch is one OpenAI request (engine.py batches it alone): its n choices of a prompt go as
        one vLLM request with ``n``. vLLM seeds one generator per request, so n copies of the prompt sent with
        the same seed would all draw the same text; the n samples of one request get seeds seed, seed+1, ...
        (vllm/v1/engine/parallel_sampling.py), so they differ and repeat with the seed.
        """
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, (prompt, request) in enumerate(zip(prompts, requests, strict=True)):
            groups.setdefault((tuple(prompt), request.max_new_tokens, request.logprobs), []).append(i)
        out: list[Generation | None] = [None] * len(requests)
        for (prompt, max_tokens, logprobs), members in groups.items():
            body = {**self._body([list(prompt)], sampling, max_tokens, adapter, logprobs), "n": len(members)}
            choices = sorted(self.client.completions(body)["choices"], key=lambda c: c["index"])
            for i, choice in zip(members, choices, strict=True):
                out[i] = self._generation(choice, len(prompt), requests[i].logprobs)
        return [g for g in out if g is not None]

    def stream_generate(
        self,
        request: GenerationRequest,
        sampling: Sampling,
        adapter: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> Generation:
        prompt = self._encode(request.prompt, request.add_special_tokens) or [self.prefix_id]
        body = self._body([prompt], sampling, request.max_new_tokens, adapter, 1)
        text: list[str] = []
        chosen: list[float] = []
        top: list[float] = []
        finish = "stop"
        for chunk in self.client.stream_completion(body):
            for choice in chunk.get("choices") or []:
                delta = choice.get("text") or ""
                if delta:
                    text.append(delta)
                    on_text(delta)
                more_chosen, more_top = step_logprobs(choice.get("logprobs"))
                chosen += more_chosen
                top += more_top
                if choice.get("finish_reason"):
                    finish = "length" if choice["finish_reason"] == "length" else "stop"
            if should_stop():
                break  # closing the stream aborts the request in vLLM
        score, confidence = mean_score(chosen, top)
        tokens = len(chosen) - (1 if finish == "stop" and chosen and len(chosen) < request.max_new_tokens else 0)
        return Generation("".join(text), len(prompt), max(tokens, 0), finish, score, confidence)


def wait_until_healthy(
    client: VLLMClient, timeout_s: float, process: VLLMProcess | None = None, poll_s: float = 1.0
) -> None:
    """vLLM's server answers /health once its engine is up; kubetune's /readyz stays 503 until then."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not client.healthy():
        if process is not None and process.exited() is not None:
            raise VLLMError(f"vLLM exited with code {process.exited()} before it was ready (see its log lines)")
        if time.monotonic() > deadline:
            raise VLLMError(f"vLLM did not become healthy within {timeout_s:.0f}s")
        pause.wait(poll_s)
    log.info("vLLM is healthy", extra={"details": {"models": [m.get("id") for m in client.models()]}})

"""Helpers of the inference server tests: torch-free fake runtimes and an in-process app client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from kubetune.serve.app import create_app
from kubetune.serve.engine import InferenceEngine
from kubetune.serve.engines.base import (
    Generation,
    GenerationRequest,
    ModelRuntime,
    Sampling,
    Score,
)
from kubetune.serve.settings import ServeSettings


class FakeRuntime(ModelRuntime):
    """A model without torch: the score is the text length mapped into (0, 1).

    ``gate`` (a threading.Event) makes every batch wait until the test opens it,
    which is how tests hold requests "in flight" without sleeping. ``fail_with``
    makes the next batch raise that exception once.
    """

    task = "sequence-classification"

    def __init__(self, adapters: tuple[str, ...] = ()) -> None:
        self.adapters = list(adapters)
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail_with: BaseException | None = None
        self.batches: list[list[str]] = []
        self.recovered = 0

    def _maybe_block(self) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(timeout=30)
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error

    def score_texts(self, texts: list[str], adapter: str | None) -> list[Score]:
        self._maybe_block()
        self.batches.append(list(texts))
        bonus = 0.1 if adapter else 0.0
        return [Score(round(len(t) / (len(t) + 10) * 0.9 + bonus, 6), 0.9, "positive") for t in texts]

    def after_out_of_memory(self) -> None:
        self.recovered += 1


class FakeLM(ModelRuntime):
    """A causal LM without torch that echoes the prompt's words back, one per step."""

    task = "causal-lm"

    def __init__(self) -> None:
        self.adapters = []
        self.generate_calls = 0

    def _words(self, request: GenerationRequest) -> list[str]:
        words = [f" {w}" for w in request.prompt.split()] or [" x"]
        return (words * request.max_new_tokens)[: request.max_new_tokens]

    def generate(self, requests: list[GenerationRequest], sampling: Sampling, adapter: str | None) -> list[Generation]:
        self.generate_calls += 1
        return [Generation("".join(self._words(r)), 3, len(self._words(r)), "length", 0.5, 0.5) for r in requests]

    def stream_generate(
        self,
        request: GenerationRequest,
        sampling: Sampling,
        adapter: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> Generation:
        sent = []
        for word in self._words(request):
            if should_stop():
                break
            on_text(word)
            sent.append(word)
        return Generation("".join(sent), 3, len(sent), "length", 0.5, 0.5)

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        return " ".join(str(m.get("content", "")) for m in messages)


@asynccontextmanager
async def serve(
    settings: ServeSettings, loader: Callable[[ServeSettings], ModelRuntime], wait_ready: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, InferenceEngine]]:
    """The app with its lifespan running, and an in-process client; waits for the model by default."""
    app = create_app(settings, loader)
    engine: InferenceEngine = app.state.engine
    async with app.router.lifespan_context(app):
        if wait_ready:
            await asyncio.wait_for(engine.ready.wait(), timeout=120)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve.test", timeout=60) as client:
            yield client, engine

"""What the server asks of a loaded model, independent of torch.

A runtime runs whole batches synchronously on the model's single executor
thread; the asyncio side (admission, batching, caching) never touches torch.
Each task implements the calls that make sense for it; the others raise
``UnsupportedTaskError`` which the API turns into a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubetune.crd.vocab import Task


class UnsupportedTaskError(Exception):
    """The served model cannot do what the endpoint asks."""


class NoChatTemplateError(Exception):
    """Chat completion asked of a tokenizer without a chat template."""


@dataclass(frozen=True)
class Score:
    """A text's score in [0, 1] and how sure the model is, in [0, 1]."""

    score: float
    confidence: float
    label: str | None = None


@dataclass(frozen=True)
class Embedding:
    """A text's unit-length vector and how many tokens it took (OpenAI's usage counts them)."""

    vector: list[float]
    tokens: int


@dataclass(frozen=True)
class ImageClass:
    label: str
    confidence: float
    embedding: list[float] | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt of a generation batch (sampling settings are shared by the batch)."""

    prompt: str
    max_new_tokens: int
    add_special_tokens: bool = True
    # OpenAI's logprobs: None = not asked; k >= 0 = each generated token's log-probability plus the k
    # most likely alternatives. Only runtimes with supports_logprobs fill Generation.logprobs.
    logprobs: int | None = None


@dataclass(frozen=True)
class Sampling:
    """Sampling settings; part of the batch key, so they are hashable."""

    temperature: float = 0.0
    top_p: float = 1.0
    # OpenAI's seed: the model thread seeds torch's generator before this batch (engine.py keeps a
    # seeded request's choices in a batch of their own, so the same seed gives the same text).
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its text, log-probability and the most likely alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of sequence or stopped) or "length"
    score: float  # exp(mean log-probability of the generated tokens), in (0, 1]
    confidence: float
    logprobs: tuple[TokenLogprob, ...] | None = None  # when the request asked for them


class ModelRuntime:
    """A loaded model; subclasses override the calls their task supports."""

    task: Task = "causal-lm"
    device: str = "cpu"
    adapters: Sequence[str] = ()
    supports_logprobs: bool = False  # fills Generation.logprobs when a request asks
    # Why /v1/embeddings is refused although the task could embed (an engine that cannot); None: it embeds.
    no_embeddings: str | None = None

    def score_texts(self, texts: list[str], adapter: str | None) -> list[Score]:
        raise UnsupportedTaskError("text scoring")

    def classify_images(self, images: list[Any], adapter: str | None, embeddings: bool) -> list[ImageClass]:
        raise UnsupportedTaskError("image classification")

    def embed_texts(self, texts: list[str], adapter: str | None) -> list[Embedding]:
        raise UnsupportedTaskError("embeddings")

    def generate(self, requests: list[GenerationRequest], sampling: Sampling, adapter: str | None) -> list[Generation]:
        raise UnsupportedTaskError("text generation")

    def stream_generate(
        self,
        request: GenerationRequest,
        sampling: Sampling,
        adapter: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> Generation:
        raise UnsupportedTaskError("text generation")

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        raise UnsupportedTaskError("chat")

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def after_out_of_memory(self) -> None:
        """Give cached device memory back after an out-of-memory error."""

"""The inference engine: readiness, cache, admission, timeout, batching and error mapping.

Every inference route goes through here, so the rules of section 3 of the
design hold everywhere: not ready -> 503, full -> 429, too slow -> 504, GPU
out of memory -> 507 (and the next request is served), model error -> 500.
Cache hits skip admission: they cost nothing to serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from kubetune.serve.admission import Admission, AdmissionRejectedError
from kubetune.serve.batcher import DynamicBatcher
from kubetune.serve.cache import ResultCache, cache_key
from kubetune.serve.devices import is_out_of_memory
from kubetune.serve.engines.base import (
    Embedding,
    Generation,
    GenerationRequest,
    ImageClass,
    ModelRuntime,
    NoChatTemplateError,
    Sampling,
    Score,
    UnsupportedTaskError,
)
from kubetune.serve.errors import ApiError, unsupported_task
from kubetune.serve.metrics import ServeMetrics
from kubetune.serve.settings import ServeSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Loader = Callable[[ServeSettings], ModelRuntime]

# How far back /stream's throughput figure looks.
THROUGHPUT_WINDOW_S = 10.0


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class InferenceEngine:
    def __init__(self, settings: ServeSettings, loader: Loader, metrics: ServeMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ServeMetrics()
        self._loader = loader
        self.runtime: ModelRuntime | None = None
        self.load_error: str | None = None
        self.load_started = datetime.now(UTC)
        self.ready = asyncio.Event()
        # Set when loading ends either way, for waiters on other threads (e.g. a server run in a thread).
        self.load_finished = threading.Event()
        self.admission = Admission(settings.max_concurrent, settings.queue_size)
        self.cache = ResultCache(
            settings.cache_ttl_seconds if settings.cache_enabled else 0, settings.cache_max_entries
        )
        # One thread owns the model: batches run one after another, and the GIL-free torch
        # kernels inside a batch use every core anyway.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubetune-model")
        self.batcher = DynamicBatcher(
            self._run_batch,
            self.executor,
            settings.max_batch_size,
            settings.max_batch_wait_ms / 1000,
            is_out_of_memory=is_out_of_memory,
            on_batch=self.metrics.batch_size.observe,
        )
        self._completed: deque[float] = deque(maxlen=100_000)

    # Life cycle
    async def load(self) -> None:
        """Load the model in the model thread; the server answers probes meanwhile."""
        self.load_started = datetime.now(UTC)
        try:
            runtime = await asyncio.get_running_loop().run_in_executor(self.executor, self._loader, self.settings)
        except Exception as error:
            log.exception("model load failed")
            self.load_error = f"{type(error).__name__}: {error}"
            self.load_finished.set()
            return
        self.runtime = runtime
        self.metrics.model_ready.set(1)
        self.ready.set()
        self.load_finished.set()
        log.info("model ready", extra={"details": {"model_version": self.settings.model_version}})

    async def close(self) -> None:
        await self.batcher.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def estimated_ready_time(self) -> str:
        guess = self.load_started + timedelta(seconds=self.settings.estimated_load_seconds)
        return iso_utc(max(guess, datetime.now(UTC) + timedelta(seconds=1)))

    def require_runtime(self) -> ModelRuntime:
        if self.runtime is not None:
            return self.runtime
        if self.load_error is not None:
            raise ApiError(503, "MODEL_LOAD_FAILED", "The model failed to load.", {"reason": self.load_error})
        raise ApiError(
            503,
            "MODEL_NOT_READY",
            "The model is still loading.",
            {"estimated_ready_time": self.estimated_ready_time()},
            headers={"Retry-After": str(max(1, int(self.settings.estimated_load_seconds)))},
        )

    def require_task(self, endpoint: str, *tasks: str) -> ModelRuntime:
        """The runtime, when the served task can answer ``endpoint``."""
        runtime = self.require_runtime()
        if self.settings.task not in tasks:
            raise unsupported_task(endpoint, self.settings.task)
        return runtime

    # Models and adapters
    def model_ids(self) -> list[str]:
        runtime = self.runtime
        adapters = list(runtime.adapters) if runtime is not None else list(self.settings.adapters)
        return [self.settings.served_model_name, *adapters]

    def resolve_adapter(self, model_id: str | None) -> str | None:
        """The adapter a model id selects: the served name (or none) means the default one.

        The default is ``default_adapter``, else the first adapter the server started with, while it is
        loaded; other adapters added at run time are called by their own names only.
        """
        runtime = self.require_runtime()
        adapters = list(runtime.adapters)
        if model_id in (None, "", self.settings.served_model_name):
            preferred = [self.settings.default_adapter] if self.settings.default_adapter else []
            return next((a for a in [*preferred, *self.settings.adapters] if a in adapters), None)
        if model_id in adapters:
            return model_id
        raise ApiError(
            404, "MODEL_NOT_FOUND", f"No model {model_id!r} is served here.", {"available": self.model_ids()}
        )

    def _model_labels(self, adapter: str | None) -> tuple[str, str]:
        """The (model, adapter) labels of serving metrics; the bare base model has adapter ""."""
        return self.settings.served_model_name, adapter or ""

    # Status
    def throughput(self) -> float:
        """Completed inference requests per second over the last window."""
        horizon = time.monotonic() - THROUGHPUT_WINDOW_S
        while self._completed and self._completed[0] < horizon:
            self._completed.popleft()
        return len(self._completed) / THROUGHPUT_WINDOW_S

    def _record_completion(self, seconds: float) -> None:
        self.admission.observe_service_time(seconds)
        self._completed.append(time.monotonic())

    # Admission, timeout and error mapping
    def _map_error(self, error: BaseException) -> ApiError:
        if isinstance(error, ApiError):
            return error
        if isinstance(error, AdmissionRejectedError):
            self.metrics.rejected.inc()
            status = error.status
            retry = max(1, int(status.estimated_wait_time + 0.999))
            return ApiError(
                429,
                "TOO_MANY_REQUESTS",
                "Too many concurrent requests; try again later.",
                {"queue_status": status.to_json()},
                headers={"Retry-After": str(retry)},
            )
        if isinstance(error, TimeoutError):
            self.metrics.timeouts.inc()
            return ApiError(
                504,
                "TIMEOUT",
                f"The request took longer than {self.settings.timeout_seconds}s.",
                {"timeout_seconds": self.settings.timeout_seconds},
            )
        if is_out_of_memory(error):
            self.metrics.out_of_memory.inc()
            if self.runtime is not None:
                # On the model thread, after the failed batch: freeing the CUDA cache there
                # cannot race with a forward pass.
                self.executor.submit(self.runtime.after_out_of_memory)
            return ApiError(507, "GPU_OUT_OF_MEMORY", "The GPU ran out of memory for this request.")
        if isinstance(error, UnsupportedTaskError):
            return unsupported_task(str(error), self.settings.task)
        if isinstance(error, NoChatTemplateError):
            return ApiError(400, "NO_CHAT_TEMPLATE", str(error))
        log.error("inference failed", exc_info=error)
        return ApiError(500, "INFERENCE_ERROR", f"Inference failed: {type(error).__name__}: {error}")

    async def admitted(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` holding an admission slot, bounded by the request timeout."""
        try:
            async with asyncio.timeout(self.settings.timeout_seconds), self.admission.slot():
                started = time.monotonic()
                result = await work()
                self._record_completion(time.monotonic() - started)
                return result
        except Exception as error:
            raise self._map_error(error) from error

    # Batched work
    def _run_batch(self, key: Hashable, payloads: list[Any]) -> Sequence[Any]:
        """Runs on the model thread: one forward pass (or one generate call) for the batch."""
        runtime = self.runtime
        assert runtime is not None
        parts: tuple[Any, ...] = key  # type: ignore[assignment]
        kind, adapter, rest = parts[0], parts[1], parts[2:]
        if kind == "score":
            return runtime.score_texts(payloads, adapter)
        if kind == "image":
            return runtime.classify_images(payloads, adapter, rest[0])
        if kind == "embed":
            return runtime.embed_texts(payloads, adapter)
        if kind == "generate":
            generations = runtime.generate(payloads, rest[0], adapter)
            self.metrics.generated_tokens.labels(*self._model_labels(adapter)).inc(
                sum(g.completion_tokens for g in generations)
            )
            return generations
        raise ValueError(f"unknown batch kind {kind}")

    async def _cached_batch(self, kind: str, key: Hashable, payloads: list[Any], identities: list[Any]) -> list[Any]:
        """Results for ``payloads``: cached ones at once, the rest through admission and the batcher."""
        use_cache = self.cache.enabled
        version = self.settings.model_version
        # An identity of None marks work that must not be cached (sampled generation); with the
        # cache off no key is computed at all (a JSON dump and a sha256 per item, for nothing).
        keys = [
            cache_key(version, kind, identity) if use_cache and identity is not None else None
            for identity in identities
        ]
        results: list[Any] = [self.cache.get(k) if k is not None else None for k in keys]
        missing = [i for i, result in enumerate(results) if result is None]
        if use_cache:
            self.metrics.cache_hits.inc(len(payloads) - len(missing))
            self.metrics.cache_misses.inc(sum(1 for i in missing if keys[i] is not None))
        if not missing:
            return results

        async def compute() -> list[Any]:
            if len(missing) == 1:  # the common case (one /infer call): no extra task for a gather
                return [await self.batcher.submit(key, payloads[missing[0]])]
            return list(await asyncio.gather(*(self.batcher.submit(key, payloads[i]) for i in missing)))

        labels = (*self._model_labels(key[1]), kind)  # type: ignore[index]
        self.metrics.model_requests.labels(*labels).inc()
        started = time.monotonic()
        computed = await self.admitted(compute)
        self.metrics.model_latency.labels(*labels).observe(time.monotonic() - started)
        for i, result in zip(missing, computed, strict=True):
            results[i] = result
            item_key = keys[i]
            if item_key is not None:
                self.cache.put(item_key, result)
        return results

    async def score_texts(self, texts: list[str], adapter: str | None, chunk: int | None = None) -> list[Score]:
        self.require_runtime()
        step = chunk or len(texts)
        results: list[Score] = []
        for start in range(0, len(texts), step):
            part = texts[start : start + step]
            results += await self._cached_batch("score", ("score", adapter), part, [[adapter, t] for t in part])
        return results

    async def embed_texts(self, texts: list[str], adapter: str | None) -> list[Embedding]:
        self.require_runtime()
        return await self._cached_batch("embed", ("embed", adapter), texts, [[adapter, t] for t in texts])

    async def classify_image(self, image: Any, digest: str, adapter: str | None, embeddings: bool) -> ImageClass:
        self.require_runtime()
        [result] = await self._cached_batch(
            "image", ("image", adapter, embeddings), [image], [[adapter, digest, embeddings]]
        )
        return result  # type: ignore[no-any-return]

    async def generate(
        self, requests: list[GenerationRequest], sampling: Sampling, adapter: str | None
    ) -> list[Generation]:
        self.require_runtime()
        # Sampled outputs are meant to differ between calls: only greedy ones are cached.
        identities = [
            [adapter, r.prompt, r.max_new_tokens, r.add_special_tokens, r.logprobs] if sampling.greedy else None
            for r in requests
        ]
        key: tuple[Any, ...] = ("generate", adapter, sampling)
        if sampling.seed is not None:
            # Batched with strangers, a seeded request's draws would depend on who shared its batch.
            key = (*key, object())
        return await self._cached_batch("generate", key, list(requests), identities)

    # Streamed generation (not batched: one request owns the model while it streams)
    def check_capacity(self) -> None:
        """Refuse a stream before its response starts when no slot or queue place is free."""
        status = self.admission.status()
        if status.active_requests >= status.max_concurrent and status.queued_requests >= self.admission.queue_size:
            raise self._map_error(AdmissionRejectedError(status))

    async def stream_generate(
        self, request: GenerationRequest, sampling: Sampling, adapter: str | None
    ) -> AsyncIterator[str | Generation]:
        """Text deltas as they are generated, then the finished Generation."""
        runtime = self.require_runtime()
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[str | None] = asyncio.Queue()
        stop = threading.Event()

        def on_text(text: str) -> None:
            loop.call_soon_threadsafe(deltas.put_nowait, text)

        def run() -> Generation:
            try:
                return runtime.stream_generate(request, sampling, adapter, on_text, stop.is_set)
            finally:
                loop.call_soon_threadsafe(deltas.put_nowait, None)

        deadline = loop.time() + self.settings.timeout_seconds
        labels = self._model_labels(adapter)
        self.metrics.model_requests.labels(*labels, "stream").inc()
        arrived = time.monotonic()
        try:
            async with asyncio.timeout_at(deadline), self.admission.slot():
                started = time.monotonic()
                job = loop.run_in_executor(self.executor, run)
                previous: float | None = None
                while (delta := await deltas.get()) is not None:
                    now = time.monotonic()
                    if previous is None:
                        self.metrics.time_to_first_token.labels(*labels).observe(now - arrived)
                    else:
                        self.metrics.inter_token_latency.labels(*labels).observe(now - previous)
                    previous = now
                    yield delta
                generation = await job
                self.metrics.generated_tokens.labels(*labels).inc(generation.completion_tokens)
                self._record_completion(time.monotonic() - started)
                self.metrics.model_latency.labels(*labels, "stream").observe(time.monotonic() - arrived)
                yield generation
        except Exception as error:
            raise self._map_error(error) from error
        finally:
            stop.set()  # the client left or time ran out: let the model thread move on


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.asynccontextmanager
async def running(engine: InferenceEngine) -> AsyncIterator[InferenceEngine]:
    """Start loading the model in the background; stop everything on exit."""
    engine.batcher.start()
    loading = asyncio.get_running_loop().create_task(engine.load(), name="model-load")
    try:
        yield engine
    finally:
        loading.cancel()
        await asyncio.gather(loading, return_exceptions=True)
        await engine.close()

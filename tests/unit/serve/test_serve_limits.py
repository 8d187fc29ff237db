"""Admission under a burst (429), timeouts (504), GPU out-of-memory (507), readiness (503) and the cache."""

from __future__ import annotations

import asyncio
import threading
from typing import TypeVar

import pytest
import torch
from serve_helpers import FakeRuntime, serve

from kubetune.serve.engines.base import ModelRuntime
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit

T = TypeVar("T")


async def _first_done(tasks: list[asyncio.Task[T]], count: int) -> tuple[set[asyncio.Task[T]], set[asyncio.Task[T]]]:
    """Wait (on completions, not on a clock) until ``count`` tasks are done."""
    done: set[asyncio.Task[T]] = set()
    pending = set(tasks)
    while len(done) < count:
        finished, pending = await asyncio.wait(pending, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        assert finished, "no request finished within 30 s"
        done |= finished
    return done, pending


def _settings(**overrides: object) -> ServeSettings:
    values: dict[str, object] = {"model_uri": "fake", "task": "sequence-classification", "max_batch_wait_ms": 0}
    values.update(overrides)
    return ServeSettings(**values)  # type: ignore[arg-type]


async def test_burst_admits_exactly_max_concurrent_plus_queue_size(fake_runtime: FakeRuntime) -> None:
    fake_runtime.gate = threading.Event()
    settings = _settings(max_concurrent=2, queue_size=3, timeout_seconds=60)
    try:
        async with serve(settings, lambda _: fake_runtime) as (client, engine):
            burst = [asyncio.create_task(client.post("/infer", json={"text": f"t{i}"})) for i in range(12)]
            # Every request has been admitted or refused once 7 refusals are counted.
            await asyncio.wait_for(engine.admission.until(lambda a: a.rejected == 12 - 5), 30)
            assert (engine.admission.active, engine.admission.queued) == (2, 3)
            # The refused responses complete on their own; the admitted ones wait at the gate.
            done, waiting = await _first_done(burst, 12 - 5)
            refused = [task.result() for task in done]
            assert {r.status_code for r in refused} == {429}
            body = refused[0].json()
            assert body["error"] == "TOO_MANY_REQUESTS"
            assert body["details"]["queue_status"]["max_concurrent"] == 2
            assert body["details"]["queue_status"]["queued_requests"] == 3
            assert "retry-after" in refused[0].headers
            assert len(waiting) == 5

            fake_runtime.gate.set()
            admitted = await asyncio.gather(*waiting)
    finally:
        fake_runtime.gate.set()
    assert len(admitted) == 5
    assert {r.status_code for r in admitted} == {200}


async def test_requests_over_the_timeout_get_504(fake_runtime: FakeRuntime) -> None:
    fake_runtime.gate = threading.Event()
    try:
        async with serve(_settings(timeout_seconds=0.2), lambda _: fake_runtime) as (client, engine):
            response = await client.post("/infer", json={"text": "slow"})
            assert response.status_code == 504
            assert response.json()["error"] == "TIMEOUT"
            assert engine.admission.active == 0  # the slot came back
            fake_runtime.gate.set()
            # The model thread finishes its batch; a new request is served.
            assert (await client.post("/infer", json={"text": "fast"})).status_code == 200
    finally:
        fake_runtime.gate.set()


async def test_out_of_memory_gives_507_and_the_server_keeps_serving(fake_runtime: FakeRuntime) -> None:
    async with serve(_settings(), lambda _: fake_runtime) as (client, _):
        fake_runtime.fail_with = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        response = await client.post("/infer", json={"text": "big"})
        assert response.status_code == 507
        assert response.json()["error"] == "GPU_OUT_OF_MEMORY"
        assert (await client.post("/infer", json={"text": "big"})).status_code == 200
        # The memory clean-up ran on the model thread, before the batch that followed it.
        assert fake_runtime.recovered == 1


async def test_model_errors_are_500_with_the_error_body(fake_runtime: FakeRuntime) -> None:
    async with serve(_settings(), lambda _: fake_runtime) as (client, _):
        fake_runtime.fail_with = ValueError("shape mismatch")
        response = await client.post("/infer", json={"text": "x"})
        assert response.status_code == 500
        assert response.json()["error"] == "INFERENCE_ERROR"
        assert "shape mismatch" in response.json()["message"]


async def test_not_ready_gives_503_with_an_estimated_ready_time(fake_runtime: FakeRuntime) -> None:
    loaded = threading.Event()

    def slow_loader(_: ServeSettings) -> ModelRuntime:
        loaded.wait(timeout=30)
        return fake_runtime

    try:
        async with serve(_settings(), slow_loader, wait_ready=False) as (client, engine):
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["model_ready"] is False
            response = await client.post("/infer", json={"text": "x"})
            assert response.status_code == 503
            body = response.json()
            assert body["error"] == "MODEL_NOT_READY"
            assert body["details"]["estimated_ready_time"].endswith("Z")

            loaded.set()
            await asyncio.wait_for(engine.ready.wait(), timeout=30)
            assert (await client.get("/readyz")).json()["model_ready"] is True
            assert (await client.post("/infer", json={"text": "x"})).status_code == 200
    finally:
        loaded.set()


async def test_a_failed_load_is_reported() -> None:
    def broken(_: ServeSettings) -> ModelRuntime:
        raise OSError("no config.json in /models/base")

    async with serve(_settings(), broken, wait_ready=False) as (client, engine):
        await asyncio.to_thread(engine.load_finished.wait, 30)
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "config.json" in ready.json()["error"]
        response = await client.post("/infer", json={"text": "x"})
        assert response.json()["error"] == "MODEL_LOAD_FAILED"


async def test_cache_hit_returns_the_same_result_without_the_model(fake_runtime: FakeRuntime) -> None:
    async with serve(_settings(), lambda _: fake_runtime) as (client, engine):
        first = (await client.post("/infer", json={"text": "same text"})).json()
        second = (await client.post("/infer", json={"text": "same text"})).json()
        assert (first["score"], first["confidence"]) == (second["score"], second["confidence"])
        assert fake_runtime.batches == [["same text"]]  # the second answer came from the cache
        assert engine.cache.hits == 1
        metrics = (await client.get("/metrics")).text
        assert "kubetune_serve_cache_hits_total 1.0" in metrics


async def test_cache_can_be_switched_off(fake_runtime: FakeRuntime) -> None:
    async with serve(_settings(cache_enabled=False), lambda _: fake_runtime) as (client, _):
        for _ in range(2):
            assert (await client.post("/infer", json={"text": "same"})).status_code == 200
        assert fake_runtime.batches == [["same"]] * 2


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/nowhere", {}, 404, "NOT_FOUND"),
        ("DELETE", "/infer", {}, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/infer", {"json": {"text": ""}}, 422, "VALIDATION_ERROR"),
        ("POST", "/infer", {"json": {"txt": "x"}}, 422, "VALIDATION_ERROR"),
        (
            "POST",
            "/infer",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "BAD_REQUEST",
        ),
        ("POST", "/infer/batch", {"json": {"items": []}}, 422, "VALIDATION_ERROR"),
        ("POST", "/infer", {"json": {"text": "x", "model": "unknown"}}, 404, "MODEL_NOT_FOUND"),
        ("POST", "/generate", {"json": {"prompt": "x"}}, 400, "UNSUPPORTED_TASK"),
        ("POST", "/infer/image", {"json": {"image_url": "data:,x"}}, 400, "UNSUPPORTED_TASK"),
    ],
)
async def test_every_error_uses_the_seed_002_body(
    fake_runtime: FakeRuntime, method: str, path: str, kwargs: dict[str, object], status: int, code: str
) -> None:
    async with serve(_settings(), lambda _: fake_runtime) as (client, _):
        response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    assert body["message"]


async def test_access_log_line_per_request(fake_runtime: FakeRuntime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kubetune.serve.access")
    async with serve(_settings(model_version="v1.2.0"), lambda _: fake_runtime) as (client, _):
        response = await client.post("/infer", json={"text": "x"}, headers={"X-Request-ID": "req_123"})
    assert response.headers["x-request-id"] == "req_123"
    [record] = [r for r in caplog.records if r.name == "kubetune.serve.access"]
    details = record.details  # type: ignore[attr-defined]
    assert record.getMessage() == "Inference completed"
    assert details["request_id"] == "req_123"
    assert details["model_version"] == "v1.2.0"
    assert details["gpu_memory_used"].endswith("GB")
    assert details["processing_time"] >= 0


async def test_stream_of_server_state(fake_runtime: FakeRuntime) -> None:
    async with serve(_settings(), lambda _: fake_runtime) as (client, _):
        response = await client.get("/stream", params={"limit": 2, "interval": 0.01})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert len(events) == 2
    assert '"active_requests":0' in events[0] and '"gpu_memory_used":' in events[0]

"""Seed 002's text routes on a real tiny classifier with a LoRA adapter."""

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
def settings(tiny_classifier: tuple[Path, Path, Path]) -> ServeSettings:
    base, first, second = tiny_classifier
    return ServeSettings(
        model_uri=f"file://{base}",
        adapters={"reviews": str(first), "tickets": f"file://{second}"},
        task="sequence-classification",
        model_name="scorer",
        model_version="v1.2.0",
        max_batch_wait_ms=2,
    )


async def test_infer_shape_and_adapter_choice(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        default = await client.post("/infer", json={"text": "This movie was wonderful"})
        assert default.status_code == 200
        body = default.json()
        assert set(body) == {"score", "confidence", "processing_time", "model_version"}
        assert 0 <= body["score"] <= 1 and 0.5 <= body["confidence"] <= 1
        assert body["model_version"] == "v1.2.0"
        named = (await client.post("/infer", json={"text": "This movie was wonderful", "model": "reviews"})).json()
        assert named["score"] == body["score"]  # the served name means the default adapter
        served = (await client.post("/infer", json={"text": "This movie was wonderful", "model": "scorer"})).json()
        assert served["score"] == body["score"]
        other = (await client.post("/infer", json={"text": "This movie was wonderful", "model": "tickets"})).json()
        assert other["score"] != body["score"]  # the second adapter really is a different model


async def test_batch_keeps_order_and_ids(settings: ServeSettings) -> None:
    texts = {"a": "good", "b": "This movie was terrible, I hated it.", "c": "fine"}
    async with serve(settings, load_runtime) as (client, _):
        singles = {k: (await client.post("/infer", json={"text": t})).json()["score"] for k, t in texts.items()}
        client_items = [{"id": k, "text": t} for k, t in texts.items()]
        response = await client.post("/infer/batch", json={"items": client_items, "batch_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["a", "b", "c"]
    assert body["total_processed"] == 3
    assert body["processing_time"] >= 0
    for result in body["results"]:
        assert result["score"] == pytest.approx(singles[result["id"]], abs=1e-4)


async def test_batch_size_limit(settings: ServeSettings) -> None:
    settings.max_batch_items = 2
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post("/infer/batch", json={"items": [{"id": str(i), "text": "x"} for i in range(3)]})
    assert response.status_code == 400
    assert response.json()["details"]["max_items"] == 2


async def test_stream_infer_progresses_to_the_final_score(settings: ServeSettings) -> None:
    text = "This movie was wonderful and I loved every minute of it"
    async with serve(settings, load_runtime) as (client, _):
        single = (await client.post("/infer", json={"text": text})).json()
        response = await client.post("/stream/infer", json={"text": text, "stream_interval": 0})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(e) for e in parse_sse(response.text)]
    assert len(events) == 3
    assert [e["step"] for e in events] == [1, 2, 3]
    assert all("partial_result" in e for e in events[:-1])
    assert events[0]["progress"] < events[1]["progress"] < events[2]["progress"] == 1.0
    assert events[-1]["final_result"] == {"score": single["score"], "confidence": single["confidence"]}


async def test_readyz_and_metrics(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        ready = await client.get("/readyz")
        await client.post("/infer", json={"text": "x"})
        metrics = (await client.get("/metrics")).text
    status = ready.json()
    assert ready.status_code == 200
    assert status["model_ready"] is True
    assert status["model_version"] == "v1.2.0"
    assert status["gpu_available"] is False
    assert (status["concurrent_requests"], status["queue_size"]) == (0, 0)
    assert 'kubetune_serve_request_seconds_count{route="/infer"} 1.0' in metrics
    assert "kubetune_serve_batch_size_count 1.0" in metrics
    assert "kubetune_serve_queue_depth 0.0" in metrics


async def test_a_classifier_embeds_with_its_encoder_and_adapters_change_the_vectors(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        base = await client.post("/v1/embeddings", json={"input": ["modern chair", "rustic table"]})
        assert base.status_code == 200, base.text
        vectors = [d["embedding"] for d in base.json()["data"]]
        assert len(vectors) == 2 and vectors[0] != vectors[1]
        assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-4
        adapted = await client.post("/v1/embeddings", json={"input": "modern chair", "model": "tickets"})
        assert adapted.json()["data"][0]["embedding"] != vectors[0]

"""Serving metrics: model and adapter labels, probes and scrapes left out, time to first token and
inter-token latency of streams."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import FakeLM, serve

from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_streams_record_ttft_and_inter_token_latency_by_model_and_probes_are_not_counted() -> None:
    settings = ServeSettings(model_uri="fake", model_name="echo", task="causal-lm", max_batch_wait_ms=0)
    async with serve(settings, lambda _: FakeLM()) as (client, _):
        for probe in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(probe)).status_code == 200
        streamed = await client.post("/v1/completions", json={"prompt": "a b c", "max_tokens": 4, "stream": True})
        assert streamed.status_code == 200
        plain = await client.post("/v1/completions", json={"prompt": "a b", "max_tokens": 3, "temperature": 0})
        assert plain.status_code == 200
        samples = _samples((await client.get("/metrics")).text)
    model = (("adapter", ""), ("model", "echo"))

    def kind(name: str) -> tuple[tuple[str, str], ...]:
        return (("adapter", ""), ("kind", name), ("model", "echo"))

    assert samples[("kubetune_serve_time_to_first_token_seconds_count", model)] == 1
    assert samples[("kubetune_serve_inter_token_latency_seconds_count", model)] == 3  # 4 deltas, 3 gaps
    assert samples[("kubetune_serve_generated_tokens_total", model)] == 7
    assert samples[("kubetune_serve_model_requests_total", kind("stream"))] == 1
    assert samples[("kubetune_serve_model_requests_total", kind("generate"))] == 1
    assert samples[("kubetune_serve_model_request_seconds_count", kind("generate"))] == 1
    routes = {dict(labels).get("route") for name, labels in samples if name == "kubetune_serve_requests_total"}
    assert routes == {"/v1/completions"}  # no /healthz, /readyz or /metrics

"""The facade's Prometheus metrics: by route template (never raw ids), probes excluded, on their own port."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from api_env import Env

from kubetune.api.core.metrics import ApiMetrics

pytestmark = pytest.mark.unit


def _value(env: Env, name: str, **labels: str) -> float:
    got = env.app.state.metrics.registry.get_sample_value(name, labels)
    return float(got or 0.0)


async def test_requests_are_counted_by_route_template_and_status(env: Env) -> None:
    route = "/api/v1/trainings/{training_id}"
    for missing in ("a1", "b2", "c3"):  # three ids, one series
        got = await env.client.get(f"/api/v1/trainings/{missing}", headers=env.auth("alice"))
        assert got.status_code == 404
    assert _value(env, "kubetune_api_requests_total", family="sktai", route=route, method="GET", status="404") == 3
    assert _value(env, "kubetune_api_request_seconds_count", family="sktai", route=route, method="GET") == 3
    await env.client.get("/api/v1/projects")  # no credentials
    assert _value(env, "kubetune_api_requests_total", family="platform", route="/api/v1/projects", method="GET",
                  status="401") == 1
    await env.client.get("/no/such/path", headers=env.auth("alice"))
    samples = [s for m in env.app.state.metrics.registry.collect() for s in m.samples
               if s.name == "kubetune_api_requests_total"]
    assert {s.labels["route"] for s in samples} >= {route, "unmatched"}
    assert not any("a1" in s.labels["route"] for s in samples)
    for probe in ("/healthz", "/readyz"):
        await env.client.get(probe)
    assert not any(s.labels["route"] in ("/healthz", "/readyz") for s in samples)
    assert _value(env, "kubetune_api_requests_in_flight") == 0


def test_metrics_are_served_on_their_own_port() -> None:
    metrics = ApiMetrics()
    metrics.requests.labels("platform", "/api/v1/projects", "GET", "200").inc()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.serve(port, "127.0.0.1")
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    series = 'kubetune_api_requests_total{family="platform",method="GET",route="/api/v1/projects",status="200"}'
    assert f"{series} 1.0" in body

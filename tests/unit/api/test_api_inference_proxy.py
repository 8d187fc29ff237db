"""Pass-through to InferenceService servers (seed 002) and seed 003's generate, against a mock server."""

# ruff: noqa: RUF001 - the seeds' own examples, full-width punctuation included
from __future__ import annotations

import json

import httpx
import pytest
from api_env import Env

from kubetune.api.cluster import INFERENCE_SERVICES

pytestmark = pytest.mark.unit


def _server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/infer":
        assert "authorization" not in request.headers or request.headers["authorization"] == "Bearer server-key"
        text = json.loads(request.content)["text"]
        return httpx.Response(
            200,
            json={"score": 0.85, "confidence": 0.92, "processing_time": 0.15, "model_version": "v1.2.0", "echo": text},
        )
    if request.url.path == "/generate":
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "id": "abc12345",
                "model": "served",
                "prompt": body["prompt"],
                "output": "机器学习是...",
                "latency_ms": 1.5,
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            },
        )
    if request.url.path == "/stream":
        return httpx.Response(200, content=b'data: {"step": 1}\n\n', headers={"content-type": "text/event-stream"})
    return httpx.Response(503, json={"error": "MODEL_NOT_READY", "message": "loading", "details": {}})


async def _service(env: Env, phase: str = "Ready") -> str:
    ns = env.projects["alice"]["namespace"]
    body = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": "chat"},
        "spec": {"model": {"baseModel": "hf://org/model"}},
    }
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, body, ns), lambda c: True)
    status = {"phase": phase, "url": "http://chat.example.svc:8000"}
    await env.changed(
        INFERENCE_SERVICES,
        lambda: env.fake.patch(INFERENCE_SERVICES, "chat", {"status": status}, ns, "status"),
        lambda c: (c.object.get("status") or {}).get("phase") == phase,
    )
    env.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(_server))
    return f"{env.projects['alice']['key']}.chat"


async def test_proxy_passes_requests_through(env: Env) -> None:
    from pydantic import SecretStr

    env.ctx.settings.inference_api_key = SecretStr("server-key")
    name = await _service(env)
    resp = await env.client.post(
        f"/api/v1/inference-services/{name}/infer", json={"text": "모던한 의자"}, headers=env.auth("alice")
    )
    assert resp.status_code == 200 and resp.json()["score"] == 0.85 and resp.json()["echo"] == "모던한 의자"
    stream = await env.client.get(f"/api/v1/inference-services/{name}/stream", headers=env.auth("alice"))
    assert stream.headers["content-type"].startswith("text/event-stream") and b"step" in stream.content
    unique = await env.client.post(
        "/api/v1/inference-services/chat/infer", json={"text": "x"}, headers=env.auth("alice")
    )
    assert unique.status_code == 200
    upstream_error = await env.client.get(f"/api/v1/inference-services/{name}/readyz", headers=env.auth("alice"))
    assert upstream_error.status_code == 503 and upstream_error.json()["error"] == "MODEL_NOT_READY"


async def test_proxy_errors_in_seed_002_shape(env: Env) -> None:
    await _service(env, phase="Loading")
    name = f"{env.projects['alice']['key']}.chat"
    not_ready = await env.client.post(
        f"/api/v1/inference-services/{name}/infer", json={"text": "x"}, headers=env.auth("alice")
    )
    assert not_ready.status_code == 503
    assert not_ready.json()["error"] == "MODEL_NOT_READY" and "not ready" in not_ready.json()["message"]
    missing = await env.client.get("/api/v1/inference-services/nope/healthz", headers=env.auth("alice"))
    assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"
    other = await env.client.get(f"/api/v1/inference-services/{name}/healthz", headers=env.auth("bob"))
    assert other.status_code == 403 and set(other.json()) == {"error", "message", "details"}


async def test_generate_through_the_served_model(env: Env) -> None:
    name = await _service(env)
    model_id = name.replace(".", "/")
    body = {"model_id": model_id, "prompt": "什么是机器学习？", "max_tokens": 512, "temperature": 0.7, "top_p": 0.9}
    resp = await env.client.post("/api/v1/inference/generate", json=body, headers=env.auth("alice"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == model_id and resp.json()["usage"]["total_tokens"] == 8
    ready = (await env.client.get("/api/v1/inference/models", headers=env.auth("alice"))).json()["models"]
    assert ready[0]["status"] == "ready"

"""Scale from zero in the facade, and OpenAI-shaped errors on a service's proxied /v1 routes."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from api_env import Env

from kubetune.api.cluster import INFERENCE_SERVICES
from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION

pytestmark = pytest.mark.unit


def _server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/chat/completions":
        return httpx.Response(200, json={"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                                         "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": "hi"}}]})
    if request.url.path == "/v1/completions":  # the server's own OpenAI-shaped refusal, passed through
        return httpx.Response(400, json={"error": {"message": "tools: no parser", "type": "invalid_request_error",
                                                   "param": "tools", "code": "unsupported_parameter"}})
    return httpx.Response(200, json={"score": 0.5, "confidence": 0.5, "processing_time": 0.1,
                                     "model_version": "v1"})


async def _service(env: Env, phase: str, scale_to_zero: bool = True) -> tuple[str, str]:
    ns = env.projects["alice"]["namespace"]
    spec: dict[str, object] = {"model": {"baseModel": "hf://org/model"}}
    if scale_to_zero:
        spec["autoscaling"] = {"scaleToZero": True, "idleSeconds": 60}
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "chat"},
            "spec": spec}
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, body, ns), lambda c: True)
    await _set_phase(env, ns, phase)
    env.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(_server))
    return ns, f"{env.projects['alice']['key']}.chat"


async def _set_phase(env: Env, ns: str, phase: str) -> None:
    status = {"phase": phase, "url": "http://chat.example.svc:8000"}
    await env.changed(INFERENCE_SERVICES,
                      lambda: env.fake.patch(INFERENCE_SERVICES, "chat", {"status": status}, ns, "status"),
                      lambda c: (c.object.get("status") or {}).get("phase") == phase)


def _last_request(env: Env, ns: str) -> str | None:
    obj = env.ctx.cache.inference_services.get("chat", ns)
    assert obj is not None
    return (obj["metadata"].get("annotations") or {}).get(LAST_REQUEST_ANNOTATION)


async def test_a_request_wakes_a_service_at_zero_waits_for_ready_then_is_answered(env: Env) -> None:
    ns, name = await _service(env, "ScaledToZero")

    async def operator_scales_it_up() -> None:
        # What the operator does on seeing the annotation: the service loads and becomes Ready.
        await env.ctx.cache.until(lambda: _last_request(env, ns) is not None, timeout=5)
        await _set_phase(env, ns, "Loading")
        await _set_phase(env, ns, "Ready")

    operator = asyncio.create_task(operator_scales_it_up())
    resp = await env.client.post(f"/api/v1/inference-services/{name}/infer", json={"text": "x"},
                                 headers=env.auth("alice"))
    await operator
    assert resp.status_code == 200, resp.text
    assert resp.json()["score"] == 0.5
    models = (await env.client.get("/api/v1/inference/models", headers=env.auth("alice"))).json()["models"]
    assert models[0]["status"] == "ready"


async def test_waking_is_bounded(env: Env) -> None:
    env.ctx.settings.scale_from_zero_timeout_seconds = 0.2
    ns, name = await _service(env, "ScaledToZero")
    models = (await env.client.get("/api/v1/inference/models", headers=env.auth("alice"))).json()["models"]
    assert models[0]["status"] == "scaled_to_zero"
    resp = await env.client.post(f"/api/v1/inference-services/{name}/infer", json={"text": "x"},
                                 headers=env.auth("alice"))
    assert resp.status_code == 503
    assert resp.json()["error"] == "MODEL_NOT_READY" and "scaling up from zero" in resp.json()["message"]
    assert "retry-after" in resp.headers
    assert _last_request(env, ns) is not None  # the wake-up call was written all the same


async def test_requests_to_a_ready_service_move_the_idle_clock_at_most_every_few_seconds(env: Env) -> None:
    ns, name = await _service(env, "Ready")
    patches_before = len([c for c in env.fake.impersonated if c[0] == "patch"])
    await env.client.post(f"/api/v1/inference-services/{name}/infer", json={"text": "x"}, headers=env.auth("alice"))
    await env.ctx.cache.until(lambda: _last_request(env, ns) is not None, timeout=5)
    first = _last_request(env, ns)
    await env.client.post(f"/api/v1/inference-services/{name}/infer", json={"text": "x"}, headers=env.auth("alice"))
    assert _last_request(env, ns) == first  # throttled: no second patch within the refresh interval
    # Written with the facade's own account (a viewer may call a model), not the caller's.
    assert len([c for c in env.fake.impersonated if c[0] == "patch"]) == patches_before


async def test_services_without_scale_to_zero_are_never_annotated(env: Env) -> None:
    ns, name = await _service(env, "Ready", scale_to_zero=False)
    resp = await env.client.post(f"/api/v1/inference-services/{name}/infer", json={"text": "x"},
                                 headers=env.auth("alice"))
    assert resp.status_code == 200
    assert _last_request(env, ns) is None


async def test_the_openai_sdk_reads_the_facades_and_the_servers_errors_on_proxied_v1(env: Env) -> None:
    _, name = await _service(env, "Ready", scale_to_zero=False)
    sdk = openai.AsyncOpenAI(base_url=f"http://testserver/api/v1/inference-services/{name}/v1",
                             api_key=env.tokens["alice"], http_client=env.client, max_retries=0)
    reply = await sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == "hi"
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.completions.create(model="chat", prompt="x")
    assert refused.value.param == "tools" and refused.value.code == "unsupported_parameter"

    missing = openai.AsyncOpenAI(base_url="http://testserver/api/v1/inference-services/nope/v1",
                                 api_key=env.tokens["alice"], http_client=env.client, max_retries=0)
    with pytest.raises(openai.NotFoundError) as not_found:
        await missing.chat.completions.create(model="x", messages=[{"role": "user", "content": "hello"}])
    assert not_found.value.message.endswith("model 'nope' not found")  # the SDK prefixes the status
    assert isinstance(not_found.value.body, dict) and not_found.value.body["message"] == "model 'nope' not found"
    assert not_found.value.type == "invalid_request_error"
    anonymous = await env.client.post(f"/api/v1/inference-services/{name}/v1/chat/completions", json={})
    assert anonymous.status_code == 401
    assert json.loads(anonymous.content)["error"]["type"] == "authentication_error"
    seed_002 = await env.client.get("/api/v1/inference-services/nope/healthz", headers=env.auth("alice"))
    assert seed_002.json()["error"] == "NOT_FOUND"  # outside /v1 the seed-002 body stays

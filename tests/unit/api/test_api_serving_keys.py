"""The facade calls each inference server with the key derived for that service, never the caller's token."""

from __future__ import annotations

import httpx
import pytest
from api_env import Env
from pydantic import SecretStr

from kubetune.api.cluster import INFERENCE_SERVICES
from kubetune.crd.serving_keys import facade_key

pytestmark = pytest.mark.unit


async def _service(env: Env, name: str, **spec: object) -> tuple[str, dict[str, object], list[httpx.Request]]:
    ns = env.projects["alice"]["namespace"]
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"model": {"baseModel": "hf://org/model"}, **spec}}
    change = await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, body, ns),
                               lambda c: True)
    await env.changed(
        INFERENCE_SERVICES,
        lambda: env.fake.patch(INFERENCE_SERVICES, name, {"status": {"phase": "Ready", "url": "http://s:8080"}},
                               ns, "status"),
        lambda c: (c.object.get("status") or {}).get("phase") == "Ready")
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/generate":
            return httpx.Response(200, json={"id": "g1", "model": "m", "prompt": "hi", "output": "yo",
                                             "latency_ms": 1.0,
                                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        return httpx.Response(200, json={"score": 0.5})

    env.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    return f"{env.projects['alice']['key']}.{name}", change.object, seen


async def test_the_proxy_and_the_json_calls_send_the_derived_key(env: Env) -> None:
    env.ctx.settings.serving_key_secret = SecretStr("platform-serving-key")
    ref, isvc, seen = await _service(env, "chat")
    expected = facade_key("platform-serving-key", isvc["metadata"]["namespace"], "chat", isvc["metadata"]["uid"])
    resp = await env.client.post(f"/api/v1/inference-services/{ref}/infer", json={"text": "x"},
                                 headers=env.auth("alice"))
    assert resp.status_code == 200
    generate = await env.client.post("/api/v1/inference/generate", headers=env.auth("alice"),
                                     json={"model_id": ref.replace(".", "/"), "prompt": "hi"})
    assert generate.status_code == 200, generate.text
    assert [r.headers["authorization"] for r in seen] == [f"Bearer {expected}"] * len(seen) and len(seen) == 2
    assert all(env.tokens["alice"] not in r.headers["authorization"] for r in seen)


async def test_a_server_without_keys_gets_no_authorization_header(env: Env) -> None:
    env.ctx.settings.serving_key_secret = SecretStr("platform-serving-key")
    ref, _, seen = await _service(env, "open", auth="none")
    resp = await env.client.post(f"/api/v1/inference-services/{ref}/infer", json={"text": "x"},
                                 headers=env.auth("alice"))
    assert resp.status_code == 200
    assert "authorization" not in seen[0].headers


async def test_without_a_serving_key_the_callers_token_is_still_never_passed_on(env: Env) -> None:
    ref, _, seen = await _service(env, "chat")
    await env.client.post(f"/api/v1/inference-services/{ref}/infer", json={"text": "x"}, headers=env.auth("alice"))
    assert "authorization" not in seen[0].headers

"""The model gateway on the fake cluster: routing by `model`, pass-through (JSON and SSE), checkpoints."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from api_env import CHAT_ROWS, Env
from openai_sdk import sdk

from kubetune.api.cluster import INFERENCE_SERVICES, TRAININGS

pytestmark = pytest.mark.unit
SEEN: list[tuple[str, dict[str, Any]]] = []


def _server(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    SEEN.append((request.url.path, body))
    if body.get("stream"):
        frames = [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "served",
                   "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                  for word in ("four", " plus")]
        content = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
        return httpx.Response(200, content=content.encode(), headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 1, "model": "served",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "four"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})


async def _succeeded_job(env: Env) -> tuple[str, str, str]:
    """A job that succeeded with checkpoints 2 and 4, served by a Ready InferenceService."""
    ns = env.projects["alice"]["namespace"]
    async with sdk(env, "alice") as alice:
        data = "".join(json.dumps(r) + "\n" for r in CHAT_ROWS).encode()
        file = await alice.files.create(file=("train.jsonl", data), purpose="fine-tune")
        job = await alice.fine_tuning.jobs.create(model="llama2-7b", training_file=file.id, suffix="s")
    await env.changed(TRAININGS, lambda: env.fake.patch(TRAININGS, job.id, {"status": {
        "phase": "Succeeded", "checkpoints": [{"step": 2, "uri": "file:///c/2"}, {"step": 4, "uri": "file:///c/4"}]}},
        ns, "status"), lambda c: (c.object.get("status") or {}).get("phase") == "Succeeded")
    name = f"{job.id}-serve"
    served = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": name},
              "spec": {"trainingRef": {"name": job.id}}}
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, served, ns),
                      lambda c: c.object["metadata"]["name"] == name)
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.patch(
        INFERENCE_SERVICES, name, {"status": {"phase": "Ready", "url": "http://served.example:8000"}}, ns, "status"),
        lambda c: (c.object.get("status") or {}).get("phase") == "Ready")
    env.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(_server))
    return job.id, f"ft:llama2-7b:{env.projects['alice']['key']}:s:{job.id}", ns


async def test_chat_routes_to_the_jobs_server_plain_and_streamed(env: Env) -> None:
    SEEN.clear()
    _, model, _ = await _succeeded_job(env)
    async with sdk(env, "alice") as alice:
        assert [m.id for m in (await alice.models.list()).data] == [model]
        chat = await alice.chat.completions.create(model=model, messages=[{"role": "user", "content": "2+2?"}])
        assert chat.choices[0].message.content == "four"
        stream = await alice.chat.completions.create(model=model, stream=True,
                                                     messages=[{"role": "user", "content": "2+2?"}])
        assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "four plus"
    assert [(path, body["model"]) for path, body in SEEN] == [("/v1/chat/completions", "")] * 2
    async with sdk(env, "bob") as bob:  # bob cannot read alice's project: the model does not exist for him
        with pytest.raises(openai.NotFoundError):
            await bob.chat.completions.create(model=model, messages=[{"role": "user", "content": "2+2?"}])


async def test_a_checkpoint_is_served_on_first_use(env: Env) -> None:
    job, model, ns = await _succeeded_job(env)
    async with sdk(env, "alice") as alice:
        with pytest.raises(openai.APIStatusError) as err:
            await alice.chat.completions.create(model=f"{model}:ckpt-step-2",
                                                messages=[{"role": "user", "content": "2+2?"}])
        assert err.value.status_code == 503 and err.value.code == "model_loading"
        with pytest.raises(openai.NotFoundError):  # not a listed checkpoint
            await alice.chat.completions.create(model=f"{model}:ckpt-step-3",
                                                messages=[{"role": "user", "content": "2+2?"}])
        created = env.ctx.cache.inference_services.get(f"{job}-ckpt-2", ns)
        assert created is not None
        assert created["spec"]["model"]["baseModel"] == f"training://{job}/checkpoints/2"
        assert created["metadata"]["ownerReferences"][0]["name"] == job
        assert f"{model}:ckpt-step-2" in [m.id for m in (await alice.models.list()).data]


async def test_a_base_model_routes_to_the_service_serving_it(env: Env) -> None:
    SEEN.clear()
    ns = env.projects["alice"]["namespace"]
    plain = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "chat"},
             "spec": {"model": {"baseModel": "hf://org/model"}}}
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, plain, ns),
                      lambda c: c.object["metadata"]["name"] == "chat")
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.patch(
        INFERENCE_SERVICES, "chat", {"status": {"phase": "Ready", "url": "http://chat.example:8000"}}, ns, "status"),
        lambda c: (c.object.get("status") or {}).get("phase") == "Ready")
    env.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(_server))
    async with sdk(env, "alice") as alice:
        assert [m.id for m in (await alice.models.list()).data] == ["chat", "org/model"]
        for model in ("org/model", "chat", f"{env.projects['alice']['key']}/chat"):
            answer = await alice.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert answer.choices[0].message.content == "four"
    assert len(SEEN) == 3


async def test_a_fine_tuned_models_service_also_answers_by_its_own_name(env: Env) -> None:
    """The dashboard's chat and the demo name a model `project/service` (as /api/v1/inference/models lists
    it): a service serving a job answers by that name too, and only to those who can read the project."""
    SEEN.clear()
    job, _, _ = await _succeeded_job(env)
    key = env.projects["alice"]["key"]
    async with sdk(env, "alice") as alice:
        for model in (f"{job}-serve", f"{key}/{job}-serve"):
            chat = await alice.chat.completions.create(model=model, messages=[{"role": "user", "content": "2+2?"}])
            assert chat.choices[0].message.content == "four"
        with pytest.raises(openai.NotFoundError):
            await alice.chat.completions.create(model=f"{key}/no-such-service",
                                                messages=[{"role": "user", "content": "2+2?"}])
    async with sdk(env, "bob") as bob:
        with pytest.raises(openai.NotFoundError):
            await bob.chat.completions.create(model=f"{key}/{job}-serve", messages=[{"role": "user", "content": "?"}])
    assert [path for path, _ in SEEN] == ["/v1/chat/completions"] * 2

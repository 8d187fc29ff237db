"""Bounded sizes where a client writes into a Training: a callback cannot grow the object."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_env import Env

from kubetune.crd.bounds import MAX_METRIC_NAME, MAX_METRICS, bounded_metrics

pytestmark = pytest.mark.unit


async def _training(env: Env, chat_jsonl: bytes) -> str:
    up = await env.client.post("/api/finetune/upload-dataset", files={"file": ("d.jsonl", chat_jsonl)},
                               headers=env.auth("alice"))
    assert up.status_code == 201, up.text
    body = {"name": "bounded", "base_model": "llama2-7b", "dataset_path": up.json()["path"]}
    resp = await env.client.post("/api/v1/trainings", json=body, headers=env.auth("alice"))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _size(env: Env, uid: str) -> int:
    return len(json.dumps(env.ctx.cache.trainings.by_uid(uid)))


async def _callback(env: Env, uid: str, body: dict[str, Any]) -> Any:
    return await env.client.post(f"/api/v1/trainings/{uid}/callback", json=body, headers=env.auth("alice"))


async def test_callbacks_that_would_make_a_1mb_training_are_refused(env: Env, chat_jsonl: bytes) -> None:
    uid = await _training(env, chat_jsonl)
    small = _size(env, uid)
    # One callback with 64 names of 16 KiB each would be a 1 MB Training.
    huge_names = {f"m{i}-" + "x" * (16 << 10): 1.0 for i in range(MAX_METRICS)}
    resp = await _callback(env, uid, {"step": 1, "metrics": huge_names})
    assert resp.status_code in (413, 422), resp.text  # the body limit or the name bound, never a write
    too_long = await _callback(env, uid, {"step": 1, "metrics": {"a" * (MAX_METRIC_NAME + 1): 1.0}})
    assert too_long.status_code == 422 and too_long.json()["code"] == "VALIDATION_ERROR"
    too_many = await _callback(env, uid, {"step": 1, "metrics": {f"m{i}": 1.0 for i in range(MAX_METRICS + 1)}})
    assert too_many.status_code == 422
    assert _size(env, uid) == small

    # Names accumulate across callbacks: the one that would pass the bound is refused whole.
    for batch in range(MAX_METRICS // 16):
        names = {f"b{batch}-m{i}": float(i) for i in range(16)}
        assert (await _callback(env, uid, {"step": batch + 1, "metrics": names})).status_code == 204
    over = await _callback(env, uid, {"step": 9, "metrics": {"one-more": 1.0}})
    assert over.status_code == 422, over.text
    assert over.json()["details"]["new"] == ["one-more"]
    status = env.ctx.cache.trainings.by_uid(uid)["status"]
    assert len(status["metrics"]) == MAX_METRICS and "one-more" not in status["metrics"]
    assert status["progress"]["step"] == MAX_METRICS // 16  # the refused callback wrote nothing
    assert _size(env, uid) < small + 8192


async def test_callback_refuses_values_json_cannot_carry(env: Env, chat_jsonl: bytes) -> None:
    uid = await _training(env, chat_jsonl)
    for body in ('{"step": 1, "loss": NaN}', '{"step": 1, "metrics": {"m": Infinity}}',
                 '{"step": 1, "gpu": [{"index": 0, "name": "' + "g" * 200 + '"}]}'):
        resp = await env.client.post(f"/api/v1/trainings/{uid}/callback", content=body,
                                     headers={**env.auth("alice"), "Content-Type": "application/json"})
        assert resp.status_code == 422, (body[:40], resp.text)
    assert "metrics" not in (env.ctx.cache.trainings.by_uid(uid).get("status") or {})


def test_the_trainer_writer_trims_to_the_bound() -> None:
    latest = {f"m{i}": float(i) for i in range(MAX_METRICS + 10)} | {"x" * (MAX_METRIC_NAME + 1): 1.0}
    kept = bounded_metrics(latest)
    assert len(kept) == MAX_METRICS and all(len(k) <= MAX_METRIC_NAME for k in kept)
    assert kept["m0"] == 0.0


async def test_rest_writes_into_a_training_are_bounded(env: Env, chat_jsonl: bytes) -> None:
    up = await env.client.post("/api/finetune/upload-dataset", files={"file": ("d.jsonl", chat_jsonl)},
                               headers=env.auth("alice"))
    base = {"name": "bounded", "base_model": "llama2-7b", "dataset_path": up.json()["path"]}
    for extra in ({"params": {f"p{i}": 1 for i in range(65)}}, {"description": "d" * 4097},
                  {"dataset_format": "f" * 65}, {"project_id": "p" * 129}, {"name": "n" * 257}):
        resp = await env.client.post("/api/v1/trainings", json={**base, **extra}, headers=env.auth("alice"))
        assert resp.status_code == 422, (list(extra), resp.text)
    assert not env.ctx.cache.trainings.all()

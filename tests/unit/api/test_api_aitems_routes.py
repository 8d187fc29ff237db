"""Seed 004: trains of a service (project), offset/limit/isRecent, and its error shape."""

from __future__ import annotations

import pytest
from api_env import Env

from kubetune.api.cluster import TRAININGS
from kubetune.api.routes.aitems import Trains

pytestmark = pytest.mark.unit


async def _training(env: Env, name: str, task: str, hpo: bool = False) -> None:
    spec = {
        "trainerRef": "lora",
        "baseModel": "llama2-7b",
        "task": task,
        "method": "lora",
        "dataset": {"uri": "s3://bucket/d.jsonl"},
    }
    if hpo:
        spec["hpo"] = {"enabled": True, "parameters": [{"name": "learningRate", "values": [0.1, 0.2]}]}
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name}, "spec": spec}
    ns = env.projects["alice"]["namespace"]
    await env.changed(
        TRAININGS, lambda: env.fake.create(TRAININGS, body, ns), lambda c: c.object["metadata"]["name"] == name
    )


async def test_trains_list_shape_and_paging(env: Env) -> None:
    await _training(env, "a", "causal-lm", hpo=True)
    await _training(env, "b", "sequence-classification")
    await _training(env, "c", "causal-lm")
    key = env.projects["alice"]["key"]
    resp = await env.client.get(f"/api/v1/services/{key}/trains", headers=env.auth("alice"))
    assert resp.status_code == 200
    raw = resp.json()
    assert set(raw["trains"][0]) >= {"serviceId", "type", "hpConfig", "version", "status", "createdDate", "inference"}
    trains = Trains.model_validate(raw)
    assert trains.offset == 0 and trains.limit == 1000 and len(trains.trains) == 3
    assert all(t.status == "requested" and t.service_id == key for t in trains.trains)
    hpo = next(t for t in trains.trains if t.hp_config["is_enabled"])
    assert hpo.hp_config["strategy"] == "grid"
    recent = Trains.model_validate(
        (await env.client.get(f"/api/v1/services/{key}/trains?isRecent=true", headers=env.auth("alice"))).json()
    )
    assert sorted(t.type for t in recent.trains) == ["causal-lm", "sequence-classification"]
    page = Trains.model_validate(
        (await env.client.get(f"/api/v1/services/{key}/trains?offset=1&limit=1", headers=env.auth("alice"))).json()
    )
    assert len(page.trains) == 1 and page.offset == 1 and page.limit == 1


async def test_trains_errors_in_aitems_shape(env: Env) -> None:
    key = env.projects["alice"]["key"]
    forbidden = await env.client.get(f"/api/v1/services/{key}/trains", headers=env.auth("bob"))
    assert forbidden.status_code == 403 and forbidden.json()["error"]["errorCode"] == "403"
    bad = await env.client.get(f"/api/v1/services/{key}/trains?limit=-1", headers=env.auth("alice"))
    assert bad.status_code == 422 and "limit" in bad.json()["error"]["message"]
    missing = await env.client.get("/api/v1/services/nope/trains", headers=env.auth("alice"))
    assert missing.status_code == 404

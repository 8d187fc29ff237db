"""The facade links a Training's MLflow run: status.trackingUrl is the response's tracking_url."""

from __future__ import annotations

import pytest
from api_env import Env

pytestmark = pytest.mark.unit


async def test_tracking_url_comes_from_the_status(env: Env, chat_jsonl: bytes) -> None:
    up = await env.client.post("/api/finetune/upload-dataset", files={"file": ("d.jsonl", chat_jsonl)},
                               headers=env.auth("alice"))
    assert up.status_code == 201, up.text
    made = await env.client.post("/api/v1/trainings", headers=env.auth("alice"), json={
        "name": "tracked", "base_model": "llama2-7b", "dataset_path": up.json()["path"], "params": {"epochs": 1}})
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    assert made.json()["tracking_url"] is None
    url = "http://mlflow.example:5000/#/experiments/1/runs/abc"
    await env.set_status(uid, {"trackingUrl": url})
    got = await env.client.get(f"/api/v1/trainings/{uid}", headers=env.auth("alice"))
    assert got.status_code == 200 and got.json()["tracking_url"] == url

"""Values that end up in a child object (node selector, resource quantities) are refused at the door.

A gpu_type with a space used to be accepted and left the Training pending forever: the Job's
node selector was invalid. Now the facade answers 422 in seed 000's shape and creates nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_env import Env

from kubetune.api.cluster import TRAININGS

pytestmark = pytest.mark.unit


async def _dataset_path(env: Env, body: bytes) -> str:
    resp = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("d.jsonl", body)}, headers=env.auth("alice")
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["path"])


@pytest.mark.parametrize(("resource", "field"), [
    ({"gpus": 1, "gpu_type": "NVIDIA A100 80GB"}, "gpu_type"),
    ({"gpus": 1, "gpu_type": "x" * 64}, "gpu_type"),
    ({"gpus": 1, "gpu_type": "-a100"}, "gpu_type"),
    ({"cpu": "four"}, "cpu"),
    ({"memory": "16 GiB"}, "memory"),
])
async def test_create_with_a_value_no_child_could_hold_is_422_and_creates_nothing(
        env: Env, chat_jsonl: bytes, resource: dict[str, Any], field: str) -> None:
    path = await _dataset_path(env, chat_jsonl)
    resp = await env.client.post("/api/v1/trainings", headers=env.auth("alice"), json={
        "name": "x", "base_model": "llama2-7b", "dataset_path": path, "resource": resource})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert any(field in d["field"] for d in body["details"]), body
    assert env.fake.objects(TRAININGS) == []


async def test_update_with_an_invalid_gpu_type_is_422_and_leaves_the_spec(env: Env, chat_jsonl: bytes) -> None:
    path = await _dataset_path(env, chat_jsonl)
    created = await env.client.post("/api/v1/trainings", headers=env.auth("alice"), json={
        "name": "x", "base_model": "llama2-7b", "dataset_path": path,
        "resource": {"gpus": 1, "gpu_type": "NVIDIA-A100-SXM4-80GB"}})
    assert created.status_code == 201, created.text
    put = await env.client.put(f"/api/v1/trainings/{created.json()['id']}", headers=env.auth("alice"),
                               json={"resource": {"gpus": 1, "gpu_type": "A100; rm -rf"}})
    assert put.status_code == 422
    [training] = env.fake.objects(TRAININGS)
    assert training["spec"]["resources"]["gpuType"] == "NVIDIA-A100-SXM4-80GB"

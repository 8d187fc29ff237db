"""REST references through the one resolver: another project's files, paths out of the store, directories."""

from __future__ import annotations

import os
from typing import Any

import pytest
from api_env import Env

from kubetune.api.cluster import TRAININGS


async def _upload(env: Env, user: str, body: bytes) -> str:
    resp = await env.client.post("/api/finetune/upload-dataset", files={"file": ("d.jsonl", body)},
                                 headers=env.auth(user))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["path"])


def _ns(env: Env, user: str) -> str:
    return str(env.projects[user]["namespace"])


async def _trainings(env: Env) -> int:
    return sum([len((await env.fake.list(TRAININGS, _ns(env, u))).items) for u in ("alice", "bob")])


@pytest.mark.parametrize("case", ["other_adapter", "traversal", "pvc_abs", "pvc_dotdot", "abs_file", "encoded",
                                  "unicode"])
async def test_base_models_outside_the_project_are_refused(env: Env, chat_jsonl: bytes, case: str) -> None:
    path = await _upload(env, "alice", chat_jsonl)
    root = env.ctx.storage.root
    bob, alice = _ns(env, "bob"), _ns(env, "alice")
    base = {
        "other_adapter": f"file://{root}/{bob}/trainings/t/adapter",
        "traversal": f"file://{root}/{alice}/../{bob}/trainings/t/adapter",
        "pvc_abs": "pvc://x//etc/passwd",
        "pvc_dotdot": "pvc://../x",
        "abs_file": "file:///etc/passwd",
        "encoded": f"file://{root}/{alice}/%2e%2e/{bob}/t",
        "unicode": f"file://{root}/{alice}/\u2024\u2024\u2215{bob}",
    }[case]
    before = await _trainings(env)
    resp = await env.client.post("/api/v1/trainings", headers=env.auth("alice"),
                                 json={"name": "x", "base_model": base, "dataset_path": path})
    assert resp.status_code == 400, resp.text
    assert "base_model" in resp.json()["message"]
    assert await _trainings(env) == before  # nothing was created


@pytest.mark.parametrize(("field", "value"), [("train_split_name", "../../x/datasets/y/train"),
                                              ("validation_split_name", "/etc/passwd"),
                                              ("validation_split_name", "%2e%2e")])
async def test_split_names_are_single_names(env: Env, chat_jsonl: bytes, field: str, value: str) -> None:
    path = await _upload(env, "alice", chat_jsonl)
    body: dict[str, Any] = {"name": "j", "provider": "TOGETHER_AI", "model_name": "org/model",
                            "dataset_path": path, field: value}
    resp = await env.client.post("/api/finetune/jobs", json=body, headers=env.auth("alice"))
    assert resp.status_code == 400, resp.text
    assert field in resp.text


async def test_a_directory_as_dataset_path_is_a_400(env: Env, chat_jsonl: bytes) -> None:
    path = await _upload(env, "alice", chat_jsonl)
    directory = path.rsplit("/", 1)[0]
    resp = await env.client.post("/api/v1/trainings", headers=env.auth("alice"),
                                 json={"name": "x", "base_model": "org/model", "dataset_path": directory})
    assert resp.status_code == 400, resp.text
    assert "directory" in resp.json()["message"]
    fmt = await env.client.get("/api/finetune/download-dataset", headers=env.auth("alice"),
                               params={"dataset_path": directory, "format_type": "openai_chat_jsonl"})
    assert fmt.status_code in (400, 422), fmt.text
    assert fmt.status_code != 500


async def test_a_symlink_out_of_the_project_is_refused(env: Env, chat_jsonl: bytes) -> None:
    theirs = await _upload(env, "bob", chat_jsonl)
    root = env.ctx.storage.root
    link_dir = f"{root}/{_ns(env, 'alice')}/datasets/link"
    os.makedirs(link_dir)
    os.symlink(f"{root}/{_ns(env, 'bob')}/{theirs}", f"{link_dir}/d.jsonl")
    resp = await env.client.post("/api/v1/trainings", headers=env.auth("alice"),
                                 json={"name": "x", "base_model": "org/model", "dataset_path": "datasets/link/d.jsonl"})
    assert resp.status_code == 400, resp.text
    assert "symlink" in resp.json()["message"]

"""Seed 001 routes: providers, datasets (upload/format/download/splits), jobs, project/task scope."""

# ruff: noqa: RUF001 - the seeds' own examples, full-width punctuation included
from __future__ import annotations

import json

import pytest
from api_env import Env

from kubetune.api.schemas import finetune as s

pytestmark = pytest.mark.unit

SAMPLE_JOB = {
    "name": "高级微调作业",
    "provider": "TOGETHER_AI",
    "model_name": "togethercomputer/llama-2-7b",
    "dataset_path": "/path/to/dataset.json",
    "parameters": {
        "learning_rate": 0.00002,
        "epochs": 3,
        "batch_size": 8,
        "lora_rank": 16,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "warmup_ratio": 0.1,
    },
    "description": "这是一个用于客服场景的微调作业",
    "system_message": "你是一个专业的客服助手，擅长解答用户问题。请保持礼貌和专业。",
    "thinking_instructions": "分析用户问题，考虑可能的解决方案，提供清晰的步骤指导。",
}
COT_ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"q{i}"},
            {"role": "assistant", "content": f"a{i}", "reasoning_content": f"because {i}"},
        ]
    }
    for i in range(10)
]


async def _upload(env: Env, user: str, body: bytes, name: str = "train.jsonl", query: str = "") -> s.Upload:
    resp = await env.client.post(
        f"/api/finetune/upload-dataset{query}", files={"file": (name, body)}, headers=env.auth(user)
    )
    assert resp.status_code == 201, resp.text
    return s.Upload.model_validate(resp.json())


async def test_providers_parameters_models(env: Env) -> None:
    alice = env.auth("alice")
    providers = s.Providers.model_validate((await env.client.get("/api/finetune/providers", headers=alice)).json())
    assert providers.providers["LORA"] == "LoRA" and "TOGETHER_AI" in providers.providers
    params = s.Parameters.model_validate(
        (await env.client.get("/api/finetune/parameters/TOGETHER_AI", headers=alice)).json()
    )
    assert [p.name for p in params.parameters] == ["learning_rate", "epochs", "lora_rank"]
    assert (await env.client.get("/api/finetune/parameters/NOPE", headers=alice)).json()["error"]["code"] == "NOT_FOUND"
    models = s.Models.model_validate((await env.client.get("/api/finetune/models", headers=alice)).json())
    assert models.providers[0].models[0].id == "llama2-7b"


async def test_upload_creates_a_dataset_and_validates(env: Env, chat_jsonl: bytes) -> None:
    up = await _upload(env, "alice", chat_jsonl, name="../../etc/My Data.jsonl")
    assert up.filename == "My_Data.jsonl" and up.path.startswith("datasets/") and up.format == "openai_chat_jsonl"
    ds = env.ctx.cache.datasets.by_uid(up.dataset_id)
    assert ds["spec"]["uri"].startswith("file://") and ds["spec"]["uri"].endswith(up.path)
    assert ds["metadata"]["namespace"] == env.projects["alice"]["namespace"]
    bad = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("x.jsonl", b"{not json\n")}, headers=env.auth("alice")
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_DATASET"
    wrong_kind = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("x.csv", b"a,b\n")}, headers=env.auth("alice")
    )
    assert wrong_kind.status_code == 400
    not_multipart = await env.client.post("/api/finetune/upload-dataset", content=b"abc", headers=env.auth("alice"))
    assert not_multipart.status_code == 415
    no_file = await env.client.post(
        "/api/finetune/upload-dataset", files={"other": ("x.jsonl", chat_jsonl)}, headers=env.auth("alice")
    )
    assert no_file.status_code == 422
    assert len(env.ctx.cache.datasets.in_project(env.projects["alice"]["namespace"])) == 1


async def test_upload_size_limit_streams_and_cleans_up(env: Env, chat_jsonl: bytes) -> None:
    env.ctx.settings.max_upload_bytes = 100
    resp = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("big.jsonl", chat_jsonl * 10)}, headers=env.auth("alice")
    )
    assert resp.status_code == 413
    ns = env.projects["alice"]["namespace"]
    assert env.ctx.storage.fs.find(f"{env.ctx.storage.root}/{ns}") == []


async def test_upload_needs_a_project_choice_when_several(env: Env, chat_jsonl: bytes) -> None:
    resp = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("a.jsonl", chat_jsonl)}, headers=env.auth("admin")
    )
    assert resp.status_code == 422 and "project_id" in resp.json()["error"]["message"]
    up = await _upload(env, "admin", chat_jsonl, query=f"?project_id={env.projects['bob']['key']}")
    assert up.project_id == env.projects["bob"]["key"]


async def test_format_and_download_use_the_shared_formatter(env: Env) -> None:
    body = "".join(json.dumps(r) + "\n" for r in COT_ROWS).encode()
    up = await _upload(env, "alice", body)
    req = {
        "dataset_path": up.path,
        "split_name": "train",
        "format_type": "openai_chat_jsonl",
        "data_strategy": "two_message_cot",
        "system_message": "sys",
        "thinking_instructions": "think",
    }
    out = await env.client.post("/api/finetune/format-dataset", json=req, headers=env.auth("alice"))
    assert out.status_code == 200, out.text
    output_path = s.FormatResponse.model_validate(out.json()).output_path
    assert output_path.startswith("formatted/") and "two_message_cot" in output_path
    ns = env.projects["alice"]["namespace"]
    lines = [json.loads(line) for line in env.ctx.storage.read_lines(ns, output_path)]
    assert len(lines) == 10 and lines[0]["messages"][0] == {"role": "system", "content": "sys"}
    assert [m["role"] for m in lines[0]["messages"]] == ["system", "user", "user", "assistant", "user", "assistant"]
    dl = await env.client.get(
        "/api/finetune/download-dataset",
        headers=env.auth("alice"),
        params={"dataset_path": up.path, "format_type": "huggingface_chat_template_jsonl"},
    )
    assert dl.status_code == 200 and "attachment" in dl.headers["content-disposition"]
    rows = [json.loads(line) for line in dl.text.splitlines()]
    assert len(rows) == 10 and rows[0]["conversations"][0]["content"] == "You are a helpful assistant."
    for params, code in (
        ({"dataset_path": "../x", "format_type": "openai_chat_jsonl"}, 400),
        ({"dataset_path": "datasets/none.jsonl", "format_type": "openai_chat_jsonl"}, 404),
        ({"dataset_path": up.path, "format_type": "yaml"}, 422),
        ({"dataset_path": up.path, "format_type": "openai_chat_jsonl", "split_name": "test"}, 422),
    ):
        resp = await env.client.get("/api/finetune/download-dataset", params=params, headers=env.auth("alice"))
        assert resp.status_code == code, (params, resp.text)


async def test_splits_and_jsonl_download(env: Env, chat_jsonl: bytes) -> None:
    up = await _upload(env, "alice", chat_jsonl, query="?task_id=task-1")
    key = env.projects["alice"]["key"]
    base = f"/api/finetune/projects/{key}/tasks/task-1/dataset_splits"
    made = await env.client.post(
        base, json={"dataset_id": up.dataset_id, "split_type": "train_test"}, headers=env.auth("alice")
    )
    assert made.status_code == 201, made.text
    split = s.DatasetSplitResponse.model_validate(made.json()).dataset_split
    assert split.split_type == "train_test" and split.dataset_id == up.dataset_id
    assert env.ctx.cache.datasets.by_uid(up.dataset_id)["spec"]["splits"] == [{"name": "train_test", "seed": 42}]
    listing = s.DatasetSplits.model_validate((await env.client.get(base, headers=env.auth("alice"))).json())
    assert [d.id for d in listing.dataset_splits] == [split.id]
    params = {
        "project_id": key,
        "task_id": "task-1",
        "dataset_id": up.dataset_id,
        "split_name": "test",
        "format_type": "openai_chat_jsonl",
        "data_strategy": "final_only",
        "custom_system_message": "hi",
    }
    dl = await env.client.get("/api/finetune/download_dataset_jsonl", params=params, headers=env.auth("alice"))
    assert dl.status_code == 200, dl.text
    test_rows = dl.text.splitlines()
    params["split_name"] = "train"
    train_rows = (
        await env.client.get("/api/finetune/download_dataset_jsonl", params=params, headers=env.auth("alice"))
    ).text.splitlines()
    assert (len(train_rows), len(test_rows)) == (8, 2) and not set(train_rows) & set(test_rows)
    assert json.loads(test_rows[0])["messages"][0] == {"role": "system", "content": "hi"}
    assert (await env.client.get(base, headers=env.auth("bob"))).status_code == 403


async def test_jobs_with_the_seed_sample_body(env: Env) -> None:
    resp = await env.client.post("/api/finetune/jobs", json=SAMPLE_JOB, headers=env.auth("alice"))
    assert resp.status_code == 201, resp.text
    job = s.JobResponse.model_validate(resp.json()).job
    assert job.status == "unknown" and job.provider == "LORA" and job.name == "高级微调作业"
    assert job.model_name == "hf://togethercomputer/llama-2-7b" and job.parameters["lora_rank"] == 16
    assert job.dataset_path and job.dataset_path.endswith("/path/to/dataset.json")
    training = env.ctx.cache.trainings.by_uid(job.id)
    assert training["spec"]["dataset"]["systemMessage"] == SAMPLE_JOB["system_message"]
    await env.set_status(job.id, {"phase": "Running", "progress": {"percent": 40}})
    jobs = s.JobsResponse.model_validate(
        (await env.client.get("/api/finetune/jobs?update_status=true", headers=env.auth("alice"))).json()
    )
    assert [(j.id, j.status, j.progress) for j in jobs.jobs] == [(job.id, "running", 40.0)]
    cancelled = s.JobResponse.model_validate(
        (await env.client.post(f"/api/finetune/jobs/{job.id}/cancel", headers=env.auth("alice"))).json()
    ).job
    assert env.ctx.cache.trainings.by_uid(cancelled.id)["spec"]["suspend"] is True
    await env.set_status(job.id, {"phase": "Stopped"})
    got = (await env.client.get(f"/api/finetune/jobs/{job.id}", headers=env.auth("alice"))).json()["job"]
    assert got["status"] == "failed" and got["latest_status"] == "Stopped"
    assert (await env.client.get(f"/api/finetune/jobs/{job.id}", headers=env.auth("bob"))).status_code == 403


async def test_task_scoped_finetunes(env: Env, chat_jsonl: bytes) -> None:
    up = await _upload(env, "alice", chat_jsonl)
    key = env.projects["alice"]["key"]
    base = f"/api/finetune/projects/{key}/tasks/task-7/finetunes"
    body = {**SAMPLE_JOB, "dataset_path": up.path}
    made = await env.client.post(base, json=body, headers=env.auth("alice"))
    assert made.status_code == 201, made.text
    job = made.json()["job"]
    assert job["task_id"] == "task-7" and job["dataset_id"] is not None
    listing = (await env.client.get(f"{base}?update_status=false", headers=env.auth("alice"))).json()["jobs"]
    assert [j["id"] for j in listing] == [job["id"]]
    other = await env.client.get(
        f"/api/finetune/projects/{key}/tasks/task-8/finetunes/{job['id']}", headers=env.auth("alice")
    )
    assert other.status_code == 404
    cancel = await env.client.post(f"{base}/{job['id']}/cancel", headers=env.auth("alice"))
    assert cancel.status_code == 200
    assert (await env.client.get(f"{base}/{job['id']}", headers=env.auth("alice"))).json()["job"]["id"] == job["id"]
    assert (await env.client.get(base, headers=env.auth("bob"))).status_code == 403
    bad_task = await env.client.get(
        f"/api/finetune/projects/{key}/tasks/bad%20task/finetunes", headers=env.auth("alice")
    )
    assert bad_task.status_code == 422

"""Seed 000 routes: trainings CRUD, control, lists, metrics, callback, trainers."""

from __future__ import annotations

from typing import Any

import pytest
from api_env import Env

from kubetune.api.schemas import sktai as s

pytestmark = pytest.mark.unit


async def _dataset_path(env: Env, user: str, body: bytes) -> str:
    resp = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("d.jsonl", body)}, headers=env.auth(user)
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["path"])


async def _create(env: Env, user: str, path: str, **extra: Any) -> s.TrainingRead:
    body = {"name": "sft run", "base_model": "llama2-7b", "dataset_path": path, "params": {"epochs": 2}, **extra}
    resp = await env.client.post("/api/v1/trainings", json=body, headers=env.auth(user))
    assert resp.status_code == 201, resp.text
    return s.TrainingRead.model_validate(resp.json())


async def test_create_get_update_delete(env: Env, chat_jsonl: bytes) -> None:
    path = await _dataset_path(env, "alice", chat_jsonl)
    created = await _create(env, "alice", path, task_id="task-a", description="first")
    assert created.status == "pending" and created.trainer_name == "lora" and created.serve is True
    assert created.task_id == "task-a" and created.project_id == env.projects["alice"]["key"]
    assert created.dataset["uri"].endswith(path)
    got = s.TrainingRead.model_validate(
        (await env.client.get(f"/api/v1/trainings/{created.id}", headers=env.auth("alice"))).json()
    )
    assert got.id == created.id and got.numeric_id == created.numeric_id
    by_number = await env.client.get(f"/api/v1/trainings/{created.numeric_id}", headers=env.auth("alice"))
    assert by_number.json()["id"] == created.id
    put = await env.client.put(
        f"/api/v1/trainings/{created.id}",
        headers=env.auth("alice"),
        json={"name": "renamed", "params": {"epochs": 4, "lora_r": 8}, "serve": False},
    )
    updated = s.TrainingRead.model_validate(put.json())
    assert updated.name == "renamed" and updated.params == {"epochs": 4, "lora_rank": 8} and not updated.serve
    assert (await env.client.delete(f"/api/v1/trainings/{created.id}", headers=env.auth("alice"))).status_code == 204
    missing = await env.client.get(f"/api/v1/trainings/{created.id}", headers=env.auth("alice"))
    assert missing.status_code == 404
    body = missing.json()
    assert body["status"] == 404 and body["code"] == "NOT_FOUND" and body["path"].endswith(created.id)


async def test_create_validation_errors_are_422_in_sktai_shape(env: Env, chat_jsonl: bytes) -> None:
    path = await _dataset_path(env, "alice", chat_jsonl)
    bad = await env.client.post(
        "/api/v1/trainings",
        headers=env.auth("alice"),
        json={"name": "x", "base_model": "llama2-7b", "dataset_path": path, "params": {"learning_rate": 5}},
    )
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_ERROR"
    missing = await env.client.post("/api/v1/trainings", headers=env.auth("alice"), json={"name": "x"})
    assert missing.status_code == 422 and missing.json()["details"][0]["field"] == "base_model"
    traversal = await env.client.post(
        "/api/v1/trainings",
        headers=env.auth("alice"),
        json={"name": "x", "base_model": "llama2-7b", "dataset_path": "../bob/datasets/x.jsonl"},
    )
    assert traversal.status_code == 400
    unknown_trainer = await env.client.post(
        "/api/v1/trainings",
        headers=env.auth("alice"),
        json={"name": "x", "base_model": "llama2-7b", "dataset_path": path, "trainer_id": "nope"},
    )
    assert unknown_trainer.status_code == 404


async def test_control_drives_suspend_and_resume_from(env: Env, chat_jsonl: bytes) -> None:
    created = await _create(env, "alice", await _dataset_path(env, "alice", chat_jsonl))
    start = await env.client.post(f"/api/v1/trainings/{created.id}/start", headers=env.auth("alice"))
    assert start.status_code == 409
    await env.set_status(created.id, {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"})
    stopped = (await env.client.post(f"/api/v1/trainings/{created.id}/stop", headers=env.auth("alice"))).json()
    assert stopped["suspended"] is True
    await env.set_status(created.id, {"phase": "Stopped"})
    resumed = await env.client.post(f"/api/v1/trainings/{created.id}/resume", headers=env.auth("alice"))
    training = env.ctx.cache.trainings.by_uid(created.id)
    assert resumed.status_code == 200 and training["spec"]["suspend"] is False
    assert training["spec"]["resumeFrom"] == {"checkpoint": "latest"}
    await env.client.post(f"/api/v1/trainings/{created.id}/stop", headers=env.auth("alice"))
    await env.set_status(created.id, {"phase": "Stopped"})
    await env.client.post(f"/api/v1/trainings/{created.id}/start", headers=env.auth("alice"))
    assert env.ctx.cache.trainings.by_uid(created.id)["spec"]["resumeFrom"] == {"checkpoint": "none"}
    await env.set_status(created.id, {"phase": "Succeeded"})
    again = await env.client.post(f"/api/v1/trainings/{created.id}/stop", headers=env.auth("alice"))
    assert again.status_code == 409 and "succeeded" in again.json()["message"]
    status = s.TrainingStatusRead.model_validate(
        (await env.client.get(f"/api/v1/trainings/{created.id}/status", headers=env.auth("alice"))).json()
    )
    assert status.status == "completed" and status.phase == "Succeeded"


async def test_list_paging_sort_filter_search(env: Env, chat_jsonl: bytes) -> None:
    path = await _dataset_path(env, "alice", chat_jsonl)
    runs = [
        await _create(env, "alice", path, name=f"run {i}", description="needle" if i % 2 else "hay") for i in range(5)
    ]
    await env.set_status(runs[0].id, {"phase": "Running"})
    alice = env.auth("alice")
    page = s.TrainingsRead.model_validate(
        (await env.client.get("/api/v1/trainings?page=2&size=2&sort=name", headers=alice)).json()
    )
    assert [t.name for t in page.data] == ["run 2", "run 3"]
    assert page.pagination.total == 5 and page.pagination.total_pages == 3
    desc = (await env.client.get("/api/v1/trainings?sort=name,desc&size=1", headers=alice)).json()
    assert desc["data"][0]["name"] == "run 4"
    running = (await env.client.get("/api/v1/trainings?filter=status:running", headers=alice)).json()
    assert [t["id"] for t in running["data"]] == [runs[0].id]
    pending = (await env.client.get("/api/v1/trainings?filter=status:pending|running", headers=alice)).json()
    assert pending["pagination"]["total"] == 5
    found = (await env.client.get("/api/v1/trainings?search=NEEDLE", headers=alice)).json()
    assert {t["name"] for t in found["data"]} == {"run 1", "run 3"}
    assert (await env.client.get("/api/v1/trainings", headers=env.auth("bob"))).json()["pagination"]["total"] == 0
    assert (await env.client.get("/api/v1/trainings", headers=env.auth("admin"))).json()["pagination"]["total"] == 5
    for bad in (
        "sort=owner",
        "sort=name,sideways",
        "filter=owner:x",
        "filter=status",
        "page=0",
        "size=5000",
        "page=abc",
    ):
        resp = await env.client.get(f"/api/v1/trainings?{bad}", headers=alice)
        assert resp.status_code == 422, bad
        assert resp.json()["message"], bad


async def test_reads_come_from_the_cache(env: Env, chat_jsonl: bytes) -> None:
    await _create(env, "alice", await _dataset_path(env, "alice", chat_jsonl))
    before = list(env.fake.calls)
    for _ in range(3):
        await env.client.get("/api/v1/trainings?sort=-created_at&filter=status:pending", headers=env.auth("alice"))
        await env.client.get("/api/v1/tasks", headers=env.auth("alice"))
    assert env.fake.calls == before


async def test_metrics_crud_and_trainer_metrics_read_only(env: Env, chat_jsonl: bytes) -> None:
    created = await _create(env, "alice", await _dataset_path(env, "alice", chat_jsonl))
    await env.set_status(created.id, {"phase": "Running", "history": [{"step": 1, "loss": 2.5}]})
    base = f"/api/v1/trainings/{created.id}/metrics"
    alice = env.auth("alice")
    made = await env.client.post(base, json={"name": "bleu", "value": 45.2, "step": 10}, headers=alice)
    assert made.status_code == 201
    metric = s.TrainingMetricRead.model_validate(made.json())
    assert metric.source == "api" and metric.value == 45.2
    listing = s.TrainingMetricsRead.model_validate((await env.client.get(base, headers=alice)).json())
    assert {(m.name, m.source) for m in listing.data} == {("loss", "trainer"), ("bleu", "api")}
    put = await env.client.put(f"{base}/{metric.id}", json={"name": "bleu", "value": 50.0}, headers=alice)
    assert put.json()["value"] == 50.0
    trainer_metric = next(m for m in listing.data if m.source == "trainer")
    assert (
        await env.client.put(f"{base}/{trainer_metric.id}", json={"name": "loss", "value": 0.0}, headers=alice)
    ).status_code == 409
    assert (await env.client.delete(f"{base}/{trainer_metric.id}", headers=alice)).status_code == 409
    assert (await env.client.delete(f"{base}/{metric.id}", headers=alice)).status_code == 204
    assert (await env.client.get(f"{base}/{metric.id}", headers=alice)).status_code == 404
    assert (await env.client.post(base, json={"name": "x", "value": "nan"}, headers=alice)).status_code == 422


async def test_api_metrics_survive_a_facade_restart(env: Env, chat_jsonl: bytes, tmp_path: Any) -> None:
    from api_env import login, make_settings, running

    created = await _create(env, "alice", await _dataset_path(env, "alice", chat_jsonl))
    await env.client.post(
        f"/api/v1/trainings/{created.id}/metrics", json={"name": "acc", "value": 0.9}, headers=env.auth("alice")
    )
    async with running(make_settings(tmp_path), env.fake) as (_, client):
        token = await login(client, "alice", "alice-password")
        resp = await client.get(f"/api/v1/trainings/{created.id}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert [m["name"] for m in resp.json()["data"]] == ["acc"]


async def test_metric_count_is_bounded(env: Env, chat_jsonl: bytes) -> None:
    env.ctx.settings.max_api_metrics = 2
    created = await _create(env, "alice", await _dataset_path(env, "alice", chat_jsonl))
    base = f"/api/v1/trainings/{created.id}/metrics"
    codes = [
        (await env.client.post(base, json={"name": "m", "value": i}, headers=env.auth("alice"))).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 409]


async def test_callback_writes_status_like_the_reporter(env: Env, chat_jsonl: bytes) -> None:
    created = await _create(env, "alice", await _dataset_path(env, "alice", chat_jsonl))
    url = f"/api/v1/trainings/{created.id}/callback"
    for step, loss in ((1, 2.0), (2, 1.5), (3, 1.7)):
        resp = await env.client.post(
            url,
            headers=env.auth("alice"),
            json={"step": step, "total_steps": 10, "epoch": 0.1 * step, "loss": loss, "metrics": {"accuracy": 0.5}},
        )
        assert resp.status_code == 204, resp.text
    status = env.ctx.cache.trainings.by_uid(created.id)["status"]
    assert status["progress"]["step"] == 3 and status["progress"]["percent"] == 30.0
    assert [p["loss"] for p in status["history"]] == [2.0, 1.5, 1.7]
    assert status["summary"] == {"initialLoss": 2.0, "finalLoss": 1.7, "bestLoss": 1.5}
    assert status["metrics"]["accuracy"] == 0.5
    assert (await env.client.post(url, headers=env.auth("bob"), json={"step": 4})).status_code == 403
    assert (await env.client.post(url, json={"step": 4})).status_code == 401


async def test_trainers_crud_needs_admin(env: Env) -> None:
    body = {
        "name": "full-ft",
        "display_name": "Full",
        "image": "kubetune/trainer:dev",
        "tasks": ["causal-lm"],
        "methods": ["full"],
        "parameters": [{"name": "epochs", "type": "float", "minimum": 1, "maximum": 10}],
    }
    denied = await env.client.post("/api/v1/trainers", json=body, headers=env.auth("alice"))
    assert denied.status_code == 403 and denied.json()["code"] == "FORBIDDEN"
    made = await env.client.post("/api/v1/trainers", json=body, headers=env.auth("admin"))
    assert made.status_code == 201, made.text
    trainer = s.TrainerRead.model_validate(made.json())
    assert trainer.parameters[0].maximum == 10
    listing = s.TrainersRead.model_validate(
        (await env.client.get("/api/v1/trainers?sort=name", headers=env.auth("alice"))).json()
    )
    assert [t.name for t in listing.data] == ["full-ft", "lora"]
    put = await env.client.put(
        f"/api/v1/trainers/{trainer.id}", json={"description": "all weights"}, headers=env.auth("admin")
    )
    assert put.json()["description"] == "all weights"
    bad = await env.client.put(
        f"/api/v1/trainers/{trainer.id}",
        headers=env.auth("admin"),
        json={"parameters": [{"name": "x", "type": "float", "minimum": 2, "maximum": 1}]},
    )
    assert bad.status_code == 422
    dup = await env.client.post("/api/v1/trainers", json=body, headers=env.auth("admin"))
    assert dup.status_code == 409 and dup.json()["status"] == 409
    assert (await env.client.delete(f"/api/v1/trainers/{trainer.id}", headers=env.auth("admin"))).status_code == 204
    assert (await env.client.get(f"/api/v1/trainers/{trainer.id}", headers=env.auth("alice"))).status_code == 404


async def test_local_base_models_outside_the_store_are_refused(env: Env, chat_jsonl: bytes) -> None:
    path = await _dataset_path(env, "alice", chat_jsonl)
    resp = await env.client.post(
        "/api/v1/trainings",
        headers=env.auth("alice"),
        json={"name": "x", "base_model": "file:///etc/models", "dataset_path": path},
    )
    assert resp.status_code == 400 and "outside this project" in resp.json()["message"]
    inside = env.ctx.storage.uri(env.projects["alice"]["namespace"], "models/tiny")
    ok = await env.client.post(
        "/api/v1/trainings", headers=env.auth("alice"), json={"name": "x", "base_model": inside, "dataset_path": path}
    )
    assert ok.status_code == 201 and ok.json()["base_model"] == inside

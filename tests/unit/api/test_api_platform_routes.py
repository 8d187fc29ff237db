"""Seed 003 routes with the seed's own examples, on the fake cluster."""

# ruff: noqa: RUF001 - the seeds' own examples, full-width punctuation included
from __future__ import annotations

import pytest
from api_env import Env

from kubetune.api.cluster import DATASETS, INFERENCE_SERVICES, NODES, TRAININGS
from kubetune.api.schemas import platform as s

pytestmark = pytest.mark.unit


async def test_login_with_seed_example_and_me(env: Env) -> None:
    resp = await env.client.post("/api/v1/auth/token", data={"username": "admin", "password": "admin123"})
    token = s.Token.model_validate(resp.json())
    assert token.token_type == "bearer" and token.expires_in == 86400
    me = await env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token.access_token}"})
    user = s.UserRead.model_validate(me.json())
    assert user.username == "admin" and user.is_admin and user.id >= 1


async def test_wrong_password_is_seed_401_body(env: Env) -> None:
    resp = await env.client.post("/api/v1/auth/token", data={"username": "admin", "password": "nope"})
    assert resp.status_code == 401
    assert resp.json() == {"detail": "Incorrect username or password"}
    assert resp.headers["www-authenticate"] == "Bearer"


async def test_project_crud(env: Env) -> None:
    alice = env.auth("alice")
    created = await env.client.post(
        "/api/v1/projects", json={"name": "新项目名称", "description": "项目描述"}, headers=alice
    )
    assert created.status_code == 201
    project = s.ProjectRead.model_validate(created.json())
    assert project.name == "新项目名称" and project.status == "active"
    assert project.namespace.startswith("kt-") and project.id > env.projects["alice"]["id"]
    listing = s.ProjectList.model_validate(
        (await env.client.get("/api/v1/projects?skip=0&limit=100", headers=alice)).json()
    )
    assert listing.total == 2 and {p.id for p in listing.projects} == {project.id, env.projects["alice"]["id"]}
    updated = await env.client.put(f"/api/v1/projects/{project.id}", json={"description": "changed"}, headers=alice)
    assert updated.json()["description"] == "changed" and updated.json()["name"] == "新项目名称"
    assert (await env.client.delete(f"/api/v1/projects/{project.id}", headers=alice)).status_code == 204
    assert (await env.client.get(f"/api/v1/projects/{project.id}", headers=alice)).status_code == 404


async def test_projects_are_private_but_admin_sees_all(env: Env) -> None:
    bob_project = env.projects["bob"]["id"]
    resp = await env.client.get(f"/api/v1/projects/{bob_project}", headers=env.auth("alice"))
    assert resp.status_code == 403 and "detail" in resp.json()
    admin = await env.client.get("/api/v1/projects", headers=env.auth("admin"))
    assert admin.json()["total"] == 2


async def test_numeric_ids_unique_and_not_reused(env: Env) -> None:
    alice = env.auth("alice")
    first = (await env.client.post("/api/v1/projects", json={"name": "a"}, headers=alice)).json()["id"]
    await env.client.delete(f"/api/v1/projects/{first}", headers=alice)
    second = (await env.client.post("/api/v1/projects", json={"name": "a"}, headers=alice)).json()["id"]
    assert second > first


async def _upload(env: Env, user: str, body: bytes, name: str = "train.jsonl") -> dict[str, object]:
    resp = await env.client.post("/api/finetune/upload-dataset", files={"file": (name, body)}, headers=env.auth(user))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_submit_with_seed_body_sets_serve(env: Env, chat_jsonl: bytes) -> None:
    await _upload(env, "alice", chat_jsonl)
    listing = await env.client.get("/api/v1/datasets", headers=env.auth("alice"))
    datasets = s.DatasetList.model_validate(listing.json())
    assert datasets.total == 1 and datasets.datasets[0].format == "openai_chat_jsonl"
    body = {
        "model_id": "llama2-7b",
        "dataset_id": datasets.datasets[0].id,
        "template_id": "lora",
        "project_id": env.projects["alice"]["id"],
        "experiment_name": "我的实验",
        "hyperparameters": {"learning_rate": 2e-4, "epochs": 3},
    }
    resp = await env.client.post("/api/v1/training/submit", json=body, headers=env.auth("alice"))
    assert resp.status_code == 201, resp.text
    sub = s.SubmitResponse.model_validate(resp.json())
    assert sub.status == "pending" and sub.experiment_name == "我的实验"
    training = env.ctx.cache.trainings.by_id(sub.id)
    assert training is not None
    assert training["spec"]["serve"]["enabled"] is True
    assert training["spec"]["hyperparameters"] == {"learningRate": 2e-4, "epochs": 3}
    assert (
        training["spec"]["dataset"]["ref"]["name"]
        == env.ctx.cache.datasets.by_id(datasets.datasets[0].id)["metadata"]["name"]
    )
    tasks = s.TaskList.model_validate(
        (await env.client.get("/api/v1/tasks?status=pending", headers=env.auth("alice"))).json()
    )
    assert [t.id for t in tasks.tasks] == [sub.id]
    assert (await env.client.get("/api/v1/tasks", headers=env.auth("bob"))).json()["total"] == 0


async def test_submit_rejects_out_of_bounds_and_other_projects(env: Env, chat_jsonl: bytes) -> None:
    await _upload(env, "alice", chat_jsonl)
    ds = (await env.client.get("/api/v1/datasets", headers=env.auth("alice"))).json()["datasets"][0]["id"]
    body = {
        "model_id": "llama2-7b",
        "dataset_id": ds,
        "template_id": "lora",
        "project_id": env.projects["alice"]["id"],
        "experiment_name": "x",
        "hyperparameters": {"epochs": 1000},
    }
    resp = await env.client.post("/api/v1/training/submit", json=body, headers=env.auth("alice"))
    assert resp.status_code == 422 and "epochs" in resp.json()["detail"]
    body["hyperparameters"] = {}
    resp = await env.client.post("/api/v1/training/submit", json=body, headers=env.auth("bob"))
    assert resp.status_code == 403


async def test_models_templates_and_training_models(env: Env) -> None:
    alice = env.auth("alice")
    tm = s.TrainingModels.model_validate((await env.client.get("/api/v1/training/models", headers=alice)).json())
    assert tm.models == [
        s.TrainingModel(id="llama2-7b", name="Llama-2-7b-chat-hf", provider="meta", size="7B", type="chat")
    ]
    tpl = s.Templates.model_validate((await env.client.get("/api/v1/training/templates", headers=alice)).json())
    assert tpl.templates[0].id == "lora" and tpl.templates[0].min_gpu_memory == "8Gi"
    models = s.ModelList.model_validate((await env.client.get("/api/v1/models", headers=alice)).json())
    assert [m.id for m in models.models] == ["llama2-7b"]


async def test_succeeded_training_becomes_a_model_and_loss_curve(env: Env, chat_jsonl: bytes) -> None:
    await _upload(env, "alice", chat_jsonl)
    ds = (await env.client.get("/api/v1/datasets", headers=env.auth("alice"))).json()["datasets"][0]["id"]
    sub = (
        await env.client.post(
            "/api/v1/training/submit",
            headers=env.auth("alice"),
            json={
                "model_id": "llama2-7b",
                "dataset_id": ds,
                "template_id": "lora",
                "project_id": env.projects["alice"]["id"],
                "experiment_name": "e",
            },
        )
    ).json()
    uid = env.ctx.cache.trainings.by_id(sub["id"])["metadata"]["uid"]
    history = [{"step": i, "loss": 2.0 - i * 0.1, "epoch": i / 10} for i in range(1, 11)]
    await env.set_status(
        uid,
        {
            "phase": "Succeeded",
            "history": history,
            "summary": {"initialLoss": 1.9, "finalLoss": 1.0, "bestLoss": 1.0},
            "progress": {"step": 10, "totalSteps": 10, "percent": 100},
        },
    )
    models = (await env.client.get("/api/v1/models", headers=env.auth("alice"))).json()["models"]
    assert models[0]["id"] == sub["id"] and models[0]["metrics"]["final_loss"] == 1.0
    curve = s.LossCurve.model_validate(
        (
            await env.client.get(f"/api/v1/metrics/loss?experiment_id={sub['id']}&steps=5", headers=env.auth("alice"))
        ).json()
    )
    assert len(curve.data) == 5 and curve.data[0].step == 1 and curve.data[-1].step == 10
    assert curve.metrics.initial_loss == 1.9 and curve.total_steps == 10
    losses = [p.loss for p in curve.data]
    assert losses == sorted(losses, reverse=True)
    assert (
        await env.client.get(f"/api/v1/metrics/loss?experiment_id={sub['id']}", headers=env.auth("bob"))
    ).status_code == 403
    assert (await env.client.get("/api/v1/metrics/loss?steps=0", headers=env.auth("alice"))).status_code == 422


async def test_gpu_view_from_nodes_and_readings(env: Env) -> None:
    node = {
        "metadata": {"name": "gpu-1", "labels": {"nvidia.com/gpu.product": "H100"}},
        "status": {"capacity": {"nvidia.com/gpu": "8"}, "allocatable": {"nvidia.com/gpu": "8"}},
    }
    await env.changed(NODES, lambda: env.fake.create(NODES, node), lambda c: True)
    gpu = s.GpuStatus.model_validate((await env.client.get("/api/v1/gpu", headers=env.auth("alice"))).json())
    assert gpu.total_gpus == 8 and gpu.nodes[0].product == "H100" and gpu.metrics == []


async def test_settings(env: Env, chat_jsonl: bytes) -> None:
    system = s.SystemSettings.model_validate(
        (await env.client.get("/api/v1/settings/system", headers=env.auth("alice"))).json()
    )
    assert system.features["inference_service"] is True
    before = (await env.client.get("/api/v1/settings/storage", headers=env.auth("alice"))).json()
    await _upload(env, "alice", chat_jsonl)
    after = s.StorageSettings.model_validate(
        (await env.client.get("/api/v1/settings/storage", headers=env.auth("alice"))).json()
    )
    assert after.used_storage_gb > before["used_storage_gb"]
    assert after.total_storage_gb and after.total_storage_gb > 0


async def test_inference_models_and_generate_not_ready(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    isvc = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": "chat"},
        "spec": {"trainingRef": {"name": "t1"}},
    }
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, isvc, ns), lambda c: True)
    models = s.InferenceModels.model_validate(
        (await env.client.get("/api/v1/inference/models", headers=env.auth("alice"))).json()
    )
    key = env.projects["alice"]["key"]
    assert [m.id for m in models.models] == [f"{key}/chat"] and models.models[0].status == "pending"
    body = {
        "model_id": f"{key}/chat",
        "prompt": "什么是机器学习？",
        "max_tokens": 512,
        "temperature": 0.7,
        "top_p": 0.9,
    }
    resp = await env.client.post("/api/v1/inference/generate", json=body, headers=env.auth("alice"))
    assert resp.status_code == 503 and "not ready" in resp.json()["detail"]
    assert (await env.client.get("/api/v1/inference/models", headers=env.auth("bob"))).json()["models"] == []


async def test_objects_made_outside_the_facade_get_numeric_ids(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    body = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "kubectl-made"},
        "spec": {"uri": "s3://bucket/data.jsonl", "format": "alpaca"},
    }
    change = await env.changed(
        DATASETS,
        lambda: env.fake.create(DATASETS, body, ns),
        lambda c: "kubetune.io/id" in (c.object["metadata"].get("annotations") or {}),
    )
    assert int(change.object["metadata"]["annotations"]["kubetune.io/id"]) > env.projects["alice"]["id"]
    assert env.ctx.cache.trainings.by_id(1) is None and TRAININGS.plural == "trainings"

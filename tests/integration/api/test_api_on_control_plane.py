"""The facade against the real API server: watches, selectors, CRD validation, SSE, authorization."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from api_facade import Facade, StreamReader
from kubernetes import client

from kubetune.api.cluster import TRAININGS

pytestmark = pytest.mark.integration

TRAINER = {
    "name": "",
    "display_name": "LoRA",
    "image": "kubetune/trainer:dev",
    "tasks": ["causal-lm"],
    "methods": ["lora"],
    "parameters": [{"name": "epochs", "type": "float", "minimum": 0, "maximum": 100}],
    "models": [{"id": "tiny", "name": "Tiny", "uri": "file:///models/tiny", "size": "1M"}],
}
ROWS = "".join(
    json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}) + "\n"
    for i in range(8)
)


async def _setup(api: Facade) -> dict[str, Any]:
    admin = await api.login("admin", "admin123")
    trainer_name = f"lora-{uuid.uuid4().hex[:6]}"
    made = await api.client.post("/api/v1/trainers", json={**TRAINER, "name": trainer_name}, headers=api.auth(admin))
    assert made.status_code == 201, made.text
    # Projects outlive a test on the shared control plane: fresh user names keep ownership apart.
    tag = uuid.uuid4().hex[:6]
    await api.ctx.users.put_user(f"alice-{tag}", "alice-password")
    await api.ctx.users.put_user(f"bob-{tag}", "bob-password")
    alice, bob = await api.login(f"alice-{tag}", "alice-password"), await api.login(f"bob-{tag}", "bob-password")
    project = (await api.client.post("/api/v1/projects", json={"name": "demo"}, headers=api.auth(alice))).json()
    await api.client.post("/api/v1/projects", json={"name": "other"}, headers=api.auth(bob))
    up = await api.client.post(
        "/api/finetune/upload-dataset", files={"file": ("chat.jsonl", ROWS.encode())}, headers=api.auth(alice)
    )
    assert up.status_code == 201, up.text
    return {
        "admin": admin,
        "alice": alice,
        "bob": bob,
        "project": project,
        "trainer": trainer_name,
        "upload": up.json(),
    }


async def test_rest_to_resources_and_back(api: Facade, api_client: client.ApiClient) -> None:
    s = await _setup(api)
    alice = api.auth(s["alice"])
    body = {
        "name": "run",
        "trainer_id": s["trainer"],
        "base_model": "tiny",
        "dataset_path": s["upload"]["path"],
        "params": {"epochs": 1},
        "task_id": "task-1",
    }
    created = await api.client.post("/api/v1/trainings", json=body, headers=alice)
    assert created.status_code == 201, created.text
    training = created.json()
    ns = s["project"]["namespace"]
    custom = client.CustomObjectsApi(api_client)
    stored = custom.get_namespaced_custom_object("kubetune.io", "v1alpha1", ns, "trainings", training["resource_name"])
    assert stored["spec"]["serve"]["enabled"] is True and stored["metadata"]["labels"]["kubetune.io/task"] == "task-1"
    assert stored["metadata"]["annotations"]["kubetune.io/id"] == str(training["numeric_id"])
    # The API server's own schema check (CEL / structural) answers through the family's error body.
    bad = await api.client.post(
        "/api/v1/trainings", headers=alice, json={**body, "method": "qlora", "task": "sequence-classification"}
    )
    assert bad.status_code == 422, bad.text
    listing = (await api.client.get("/api/v1/trainings?filter=task_id:task-1", headers=alice)).json()
    assert [t["id"] for t in listing["data"]] == [training["id"]]
    tasks = (await api.client.get("/api/v1/tasks", headers=alice)).json()
    assert [t["id"] for t in tasks["tasks"]] == [training["numeric_id"]]
    for user, code in (("bob", 403), ("admin", 200)):
        resp = await api.client.get(f"/api/v1/trainings/{training['id']}", headers=api.auth(s[user]))
        assert resp.status_code == code, user


async def test_sse_delivers_a_status_transition(api: Facade, api_client: client.ApiClient) -> None:
    s = await _setup(api)
    body = {"name": "run", "trainer_id": s["trainer"], "base_model": "tiny", "dataset_path": s["upload"]["path"]}
    training = (await api.client.post("/api/v1/trainings", json=body, headers=api.auth(s["alice"]))).json()
    custom = client.CustomObjectsApi(api_client)
    path = f"/api/v1/trainings/{training['id']}/events/stream"
    async with StreamReader(api.app, path, api.auth(s["alice"])) as stream:
        frames = stream.frames()
        first = await anext(frames)
        assert stream.status == 200 and "event: status" in first
        started = time.monotonic()
        custom.patch_namespaced_custom_object_status(
            "kubetune.io",
            "v1alpha1",
            s["project"]["namespace"],
            "trainings",
            training["resource_name"],
            {"status": {"phase": "Running", "message": "pod started"}},
        )
        async for frame in frames:
            if "pod started" in frame:
                break
        latency = time.monotonic() - started
        print(f"SSE transition latency: {latency * 1000:.1f} ms")
    cached = api.ctx.cache.trainings.by_uid(training["id"])
    assert cached is not None and cached["status"]["phase"] == "Running"


async def test_metrics_callback_and_control_on_the_real_api(api: Facade) -> None:
    s = await _setup(api)
    alice = api.auth(s["alice"])
    body = {"name": "run", "trainer_id": s["trainer"], "base_model": "tiny", "dataset_path": s["upload"]["path"]}
    training = (await api.client.post("/api/v1/trainings", json=body, headers=alice)).json()
    base = f"/api/v1/trainings/{training['id']}"
    cb = await api.client.post(f"{base}/callback", json={"step": 1, "total_steps": 4, "loss": 2.0}, headers=alice)
    assert cb.status_code == 204, cb.text
    metric = await api.client.post(f"{base}/metrics", json={"name": "bleu", "value": 1.5}, headers=alice)
    assert metric.status_code == 201, metric.text
    listing = (await api.client.get(f"{base}/metrics", headers=alice)).json()["data"]
    assert {(m["name"], m["source"]) for m in listing} == {("loss", "trainer"), ("bleu", "api")}
    stop = await api.client.post(f"{base}/stop", headers=alice)
    assert stop.status_code == 200 and stop.json()["suspended"] is True
    cached = api.ctx.cache.trainings.by_uid(training["id"])
    assert cached["status"]["progress"]["totalSteps"] == 4 and TRAININGS.plural == "trainings"
    curve = (await api.client.get(f"/api/v1/metrics/loss?experiment_id={training['numeric_id']}", headers=alice)).json()
    assert curve["data"][0]["loss"] == 2.0

"""Seed clients keep working as accounts grow: a default project, and experiment names where ids are accepted."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from api_facade import Facade
from kubernetes import client

pytestmark = pytest.mark.integration

ROWS = "".join(
    json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}) + "\n"
    for i in range(4)
).encode()
HEADER = "x-kubetune-project"


async def _user(api: Facade, name: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    await api.ctx.users.put_user(f"{name}-{tag}", f"{name}-password")
    return api.auth(await api.login(f"{name}-{tag}", f"{name}-password"))


async def _project(api: Facade, who: dict[str, str], name: str) -> dict[str, Any]:
    made = await api.client.post("/api/v1/projects", json={"name": name}, headers=who)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _upload(api: Facade, who: dict[str, str]) -> Any:
    return await api.client.post("/api/finetune/upload-dataset", files={"file": ("chat.jsonl", ROWS)}, headers=who)


async def test_first_project_is_the_default_and_the_response_names_it(api: Facade) -> None:
    carol = await _user(api, "carol")
    none_yet = await _upload(api, carol)
    assert none_yet.status_code == 422 and "create one first" in none_yet.text
    first = await _project(api, carol, "first")
    second = await _project(api, carol, "second")

    up = await _upload(api, carol)  # seed 001's upload has only `file`: two projects, the default decides
    assert up.status_code == 201, up.text
    assert up.headers[HEADER] == first["key"]
    assert up.json()["project_id"] == first["key"], up.json()
    shown = await api.client.get("/api/v1/auth/me/default-project", headers=carol)
    assert shown.status_code == 200 and shown.json()["id"] == first["id"]

    changed = await api.client.put("/api/v1/auth/me/default-project", json={"project_id": str(second["id"])},
                                   headers=carol)
    assert changed.status_code == 200, changed.text
    up = await _upload(api, carol)
    assert up.status_code == 201 and up.headers[HEADER] == second["key"] == up.json()["project_id"], up.text
    # An explicit project still wins, and the header names it too.
    up = await api.client.post(f"/api/finetune/upload-dataset?project_id={first['id']}",
                               files={"file": ("chat.jsonl", ROWS)}, headers=carol)
    assert up.status_code == 201 and up.headers[HEADER] == first["key"], up.text


async def test_default_project_must_be_the_callers(api: Facade) -> None:
    dave, erin = await _user(api, "dave"), await _user(api, "erin")
    await _project(api, dave, "mine")
    theirs = await _project(api, erin, "theirs")
    refused = await api.client.put("/api/v1/auth/me/default-project", json={"project_id": theirs["key"]},
                                   headers=dave)
    assert refused.status_code == 403, refused.text
    unknown = await api.client.put("/api/v1/auth/me/default-project", json={"project_id": "no-such"}, headers=dave)
    assert unknown.status_code == 404, unknown.text
    bad = await api.client.put("/api/v1/auth/me/default-project", json={"project": "x"}, headers=dave)
    assert bad.status_code == 422, bad.text



def _training(namespace: str, name: str, experiment: str) -> dict[str, Any]:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"trainerRef": "lora", "baseModel": "tiny", "displayName": experiment,
                     "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"}}}


async def test_loss_curve_accepts_the_experiment_name(api: Facade, api_client: client.ApiClient) -> None:
    frank, grace = await _user(api, "frank"), await _user(api, "grace")
    mine = await _project(api, frank, "exp")
    theirs = await _project(api, grace, "exp")
    custom = client.CustomObjectsApi(api_client)

    def create(namespace: str, name: str, experiment: str) -> dict[str, Any]:
        return dict(custom.create_namespaced_custom_object(  # type: ignore[no-untyped-call]
            "kubetune.io", "v1alpha1", namespace, "trainings", _training(namespace, name, experiment)))

    older = await asyncio.to_thread(create, mine["namespace"], "sweep-a1b2c", "sweep")
    await asyncio.sleep(1.1)  # creationTimestamp has one-second resolution: "newest" needs two seconds apart
    newer = await asyncio.to_thread(create, mine["namespace"], "sweep-d3e4f", "sweep")
    await asyncio.to_thread(create, theirs["namespace"], "solo-g5h6i", "solo")
    for obj, steps in ((older, 3), (newer, 7)):  # told apart in the answer by their planned steps
        await asyncio.to_thread(custom.patch_namespaced_custom_object_status, "kubetune.io", "v1alpha1",
                                mine["namespace"], "trainings", obj["metadata"]["name"],
                                {"status": {"progress": {"step": 0, "totalSteps": steps}}})

    async def curve(who: dict[str, str], ref: str, steps: int | None = None) -> Any:
        async with asyncio.timeout(30):
            while True:  # the facade's watch cache catches up with what was just created and patched
                resp = await api.client.get(f"/api/v1/metrics/loss?experiment_id={ref}", headers=who)
                if (resp.status_code != 404 or ref == "solo") and (
                        steps is None or resp.json().get("total_steps") == steps):
                    return resp
                await asyncio.sleep(0.2)

    # The name seed 003's submit was given, not the object's name; several runs share it: the newest answers.
    got = await curve(frank, "sweep", steps=7)
    assert got.status_code == 200 and got.json()["experiment_id"] == "sweep", got.text
    by_name = await curve(frank, "sweep-a1b2c", steps=3)
    assert by_name.status_code == 200, by_name.text
    # Another project's experiment name is not found, and says nothing about whether it exists.
    assert (await curve(frank, "solo")).status_code == 404

"""Data isolation through REST: an ordinary account cannot point a training at another project's files.

Alice and bob are ordinary accounts with a project each, on the facade running under its chart identity
against the real control plane. Every way alice tries to reach bob's dataset or adapter, or a file of
the host, through the three training families (sktai, finetune, platform) is a 400 with the reason, and
no Training is created anywhere. The kubectl side is in test_pipeline_isolation.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from api_facade import Facade, facade
from kubernetes import client

pytestmark = pytest.mark.integration

ROWS = "".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                        {"role": "assistant", "content": f"a{i}"}]}) + "\n" for i in range(4))
TRAINER = {"display_name": "LoRA", "description": "tiny", "image": "kubetune/trainer:dev", "tasks": ["causal-lm"],
           "methods": ["lora"], "models": [{"id": "tiny", "name": "tiny", "uri": "hf://tiny/model", "size": "1M",
                                            "type": "chat"}]}


async def _account(api: Facade, name: str) -> tuple[str, dict[str, Any], str]:
    """(token, project, uploaded dataset path) of a fresh ordinary account."""
    await api.ctx.users.put_user(name, f"{name}-password")
    token = await api.login(name, f"{name}-password")
    made = await api.client.post("/api/v1/projects", json={"name": f"{name} project"}, headers=api.auth(token))
    assert made.status_code == 201, made.text
    project = made.json()
    up = await api.client.post(f"/api/finetune/upload-dataset?project_id={project['key']}",
                               files={"file": ("chat.jsonl", ROWS.encode())}, headers=api.auth(token))
    assert up.status_code == 201, up.text
    return token, project, str(up.json()["path"])


def _trainings(custom: client.CustomObjectsApi, *namespaces: str) -> int:
    return sum(len(custom.list_namespaced_custom_object("kubetune.io", "v1alpha1", ns, "trainings")["items"])
               for ns in namespaces)


async def test_rest_references_out_of_the_project_are_400_and_create_nothing(
        api_client: client.ApiClient, tmp_path: Path) -> None:
    store = tmp_path / "store"
    async with facade(api_client, store) as api:
        tag = uuid.uuid4().hex[:6]
        admin = await api.login("admin", "admin123")
        trainer = f"lora-{tag}"
        made = await api.client.post("/api/v1/trainers", json={**TRAINER, "name": trainer}, headers=api.auth(admin))
        assert made.status_code == 201, made.text
        alice, mine, my_path = await _account(api, f"alice-{tag}")
        _, theirs, their_path = await _account(api, f"bob-{tag}")
        a_ns, b_ns = mine["namespace"], theirs["namespace"]
        adapter = store / b_ns / "trainings" / "t" / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (store / b_ns).rglob("*") if p.is_file()}
        # A link alice's own pod could have left in her prefix, to bob's dataset.
        os.symlink(store / b_ns / their_path, store / a_ns / "datasets" / "link.jsonl")
        (store / a_ns / "datasets" / "folder").mkdir()
        custom = client.CustomObjectsApi(api_client)
        count = _trainings(custom, a_ns, b_ns)

        h = api.auth(alice)
        base = {"project_id": str(mine["id"]), "name": "steal", "trainer_id": trainer, "serve": False}
        sktai: dict[str, dict[str, Any]] = {
            "other adapter": {"base_model": f"file://{store}/{b_ns}/trainings/t/adapter", "dataset_path": my_path},
            "traversal": {"base_model": f"file://{store}/{a_ns}/../{b_ns}/trainings/t/adapter",
                          "dataset_path": my_path},
            "encoded dots": {"base_model": f"file://{store}/{a_ns}/%2e%2e/{b_ns}/trainings/t/adapter",
                             "dataset_path": my_path},
            "unicode": {"base_model": f"file://{store}/{a_ns}/\uff0e\uff0e/{b_ns}/x", "dataset_path": my_path},
            "pvc absolute": {"base_model": "pvc://x//etc/passwd", "dataset_path": my_path},
            "pvc dotdot": {"base_model": "pvc://../x", "dataset_path": my_path},
            "host file": {"base_model": "file:///etc/passwd", "dataset_path": my_path},
            "s3 elsewhere": {"base_model": f"s3://other-bucket/{a_ns}/m", "dataset_path": my_path},
            "dataset traversal": {"base_model": "tiny", "dataset_path": f"../{b_ns}/{their_path}"},
            "dataset symlink": {"base_model": "tiny", "dataset_path": "datasets/link.jsonl"},
            "dataset directory": {"base_model": "tiny", "dataset_path": "datasets/folder"},
        }
        for case, body in sktai.items():
            resp = await api.client.post("/api/v1/trainings", json={**base, **body}, headers=h)
            assert resp.status_code == 400, (case, resp.status_code, resp.text)
            assert resp.json()["message"], case
        finetune = {
            "train split traversal": {"train_split_name": f"../../{b_ns}/{their_path.rsplit('.', 1)[0]}"},
            "validation split absolute": {"validation_split_name": "/etc/passwd"},
            "split encoded": {"validation_split_name": "%2e%2e"},
        }
        for case, extra in finetune.items():
            resp = await api.client.post("/api/finetune/jobs", headers=h, json={
                "project_id": mine["key"], "name": "steal", "provider": trainer, "model_name": "tiny",
                "dataset_path": my_path, **extra})
            assert resp.status_code == 400, (case, resp.status_code, resp.text)
            assert "split_name" in resp.text, case
        # A directory where a file is expected: a 400 with a message on the download route too, never a 500.
        down = await api.client.get("/api/finetune/download-dataset", headers=h, params={
            "project_id": mine["key"], "dataset_path": "datasets/folder", "format_type": "openai_chat_jsonl"})
        assert down.status_code == 400 and "directory" in down.text, (down.status_code, down.text)

        assert _trainings(custom, a_ns, b_ns) == count  # nothing was created, in either project
        after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (store / b_ns).rglob("*") if p.is_file()}
        assert after == before  # and bob's files are as they were
        # The control: alice's own dataset and a catalog model are accepted.
        ok = await api.client.post("/api/v1/trainings", headers=h,
                                   json={**base, "name": "fine", "base_model": "tiny", "dataset_path": my_path})
        assert ok.status_code == 201, ok.text

"""The facade's upload checks preference files as the Dataset controller does: format detected, bad line named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_env import Env

pytestmark = pytest.mark.unit

OPENAI_DPO = {
    "input": {"messages": [{"role": "user", "content": "2+2?"}]},
    "preferred_output": [{"role": "assistant", "content": "4"}],
    "non_preferred_output": [{"role": "assistant", "content": "5"}],
}
HF = {"prompt": [{"role": "user", "content": "2+2?"}], "chosen": [{"role": "assistant", "content": "4"}],
      "rejected": [{"role": "assistant", "content": "5"}]}


def _jsonl(*rows: object) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


async def _post(env: Env, body: bytes, query: str = "") -> tuple[int, dict[str, Any]]:
    resp = await env.client.post(
        f"/api/finetune/upload-dataset{query}", files={"file": ("pairs.jsonl", body)}, headers=env.auth("alice")
    )
    return resp.status_code, resp.json()


async def test_preference_uploads_are_detected_and_become_datasets(env: Env) -> None:
    for row, fmt in ((OPENAI_DPO, "openai-dpo"), (HF, "preference")):
        status, body = await _post(env, _jsonl(row, row, row))
        assert status == 201, body
        assert body["format"] == fmt
    formats = sorted(d["spec"]["format"] for d in env.ctx.cache.datasets.in_project(env.projects["alice"]["namespace"]))
    assert formats == ["openai-dpo", "preference"]


async def test_a_bad_pair_is_400_naming_its_line_and_nothing_is_kept(env: Env) -> None:
    same = dict(OPENAI_DPO, non_preferred_output=OPENAI_DPO["preferred_output"])
    status, body = await _post(env, _jsonl(OPENAI_DPO, OPENAI_DPO, same))
    assert status == 400 and body["error"]["code"] == "INVALID_DATASET"
    assert ":3: " in body["error"]["message"] and "are the same" in body["error"]["message"]
    no_rejected = {"prompt": "q", "chosen": "a"}
    status, body = await _post(env, _jsonl(HF, no_rejected), "?format=preference")
    assert status == 400 and ":2: missing field 'rejected'" in body["error"]["message"]
    ns = env.projects["alice"]["namespace"]
    assert env.ctx.cache.datasets.in_project(ns) == []
    assert env.ctx.storage.fs.find(f"{env.ctx.storage.root}/{ns}") == []


async def test_a_chat_file_declared_as_preference_is_refused(env: Env) -> None:
    chat = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    status, body = await _post(env, _jsonl(chat), "?format=openai-dpo")
    assert status == 400 and ":1: missing field 'input'" in body["error"]["message"]

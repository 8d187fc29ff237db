"""Dataset formatting streams: line by line from the store, chunk by chunk to the client, bad lines named."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from typing import Any
from urllib.parse import urlencode

import pytest
from api_env import Env

from kubetune.api import formatting as fmt
from kubetune.formats import DatasetError

pytestmark = pytest.mark.unit


def _rows(count: int, pad: int = 0) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"question {i} " + "x" * pad},
                      {"role": "assistant", "content": f"answer {i}"}]}
        for i in range(count)
    ]


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


async def _asgi_get(env: Env, path: str, params: dict[str, str], on_body: Any) -> tuple[int, list[bytes]]:
    """Drive the app with raw ASGI messages so each body chunk is seen as the app sends it."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": urlencode(params).encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", env.auth("alice")["Authorization"].encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    sent_request = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the response ends (then cancelled)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            on_body(message["body"])
            chunks.append(message["body"])

    await env.app(scope, receive, send)
    return status, chunks


def test_rows_bitmap_and_line_numbers() -> None:
    rows = fmt.Rows([0, 3, 9], count=10)
    assert [r for r in range(12) if r in rows] == [0, 3, 9] and 5 in fmt.Rows()
    job = fmt.FormatJob(source="k.jsonl", input_format="openai_chat_jsonl", output_format="openai_chat_toolcall_jsonl",
                        strategy="final_only")
    lines = [_jsonl(_rows(1)), "\n", "{broken\n"]
    with pytest.raises(DatasetError) as bad:
        list(fmt.records(lines, job))
    assert bad.value.line == 3 and str(bad.value).startswith("k.jsonl:3: not valid JSON")
    with pytest.raises(DatasetError) as unfit:  # parses, but a tool-call format needs tool calls
        fmt.check(lambda: iter(lines[:2]), job, fmt.Rows())
    assert unfit.value.line == 1 and "tool_calls" in unfit.value.reason and "record" not in unfit.value.reason
    with pytest.raises(KeyError):
        fmt.needs_count("test", [])
    assert fmt.needs_count("test", [("train_test", 1)]) and not fmt.needs_count("train", [])
    assert list(fmt.chunked(["ab\n", "cd\n", "e\n"], size=4)) == [b"ab\ncd\n", b"e\n"]


async def test_download_is_sent_chunk_by_chunk_while_rendering(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 3000
    ns = env.projects["alice"]["namespace"]
    env.ctx.storage.write_text(ns, "uploads/big.jsonl", _jsonl(_rows(count)))
    calls = 0
    real = fmt.render_record

    def counting(*args: Any) -> str:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(fmt, "render_record", counting)
    at_chunk: list[int] = []
    status, chunks = await _asgi_get(
        env, "/api/finetune/download-dataset",
        {"dataset_path": "uploads/big.jsonl", "format_type": "huggingface_chat_template_jsonl"},
        lambda body: at_chunk.append(calls),
    )
    assert status == 200
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == count and json.loads(lines[-1])["conversations"][-1]["content"] == f"answer {count - 1}"
    # One render per line to check the file, one per line to send it...
    assert calls == 2 * count
    # ... and the body left in several chunks, the first long before the last line was rendered.
    assert len(chunks) >= 3 and all(len(c) <= 2 * fmt.CHUNK_BYTES for c in chunks)
    assert at_chunk[0] - count < count // 2 and at_chunk == sorted(at_chunk)


def test_memory_stays_bounded_by_a_chunk_not_the_file(env_free_store: Any) -> None:
    store, ns = env_free_store
    text = _jsonl(_rows(4000, pad=800))
    store.write_text(ns, "big.jsonl", text)
    job = fmt.FormatJob(source="big.jsonl", input_format="openai_chat_jsonl", output_format="openai_chat_jsonl",
                        strategy="final_only")
    tracemalloc.start()
    try:
        sent = 0
        for chunk in fmt.chunked(fmt.rendered(lambda: store.read_lines(ns, "big.jsonl"), job, fmt.Rows())):
            sent += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(text) > 3_000_000 and sent > 3_000_000
    assert peak < 1_000_000, peak  # a few chunks' worth, whatever the file's size


@pytest.fixture
def env_free_store(tmp_path: Any) -> tuple[Any, str]:
    from kubetune.api.storage.store import ArtifactStore

    return ArtifactStore(f"file://{tmp_path}/store"), "kt-demo"


async def test_bad_lines_are_422_naming_the_line_everywhere(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    rows = [json.dumps(r) for r in _rows(100)]
    rows[74] = '{"messages": "not a list"}'
    body = ("\n".join(rows) + "\n").encode()
    up = await env.client.post(  # the upload checks the head only: line 75 is past it
        "/api/finetune/upload-dataset", files={"file": ("late.jsonl", body)}, headers=env.auth("alice")
    )
    assert up.status_code == 201, up.text
    path, dataset_id = up.json()["path"], up.json()["dataset_id"]
    alice = env.auth("alice")
    responses = [
        await env.client.get("/api/finetune/download-dataset", headers=alice,
                             params={"dataset_path": path, "format_type": "openai_chat_jsonl"}),
        await env.client.get("/api/finetune/download_dataset_jsonl", headers=alice,
                             params={"project_id": env.projects["alice"]["key"], "task_id": "t",
                                     "dataset_id": dataset_id}),
        await env.client.post("/api/finetune/format-dataset", headers=alice,
                              json={"dataset_path": path, "split_name": "train",
                                    "format_type": "openai_chat_jsonl", "data_strategy": "final_only"}),
    ]
    for resp in responses:
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "INVALID_DATASET" and error["details"] == {"line": 75}
        assert ":75: " in error["message"] and "messages" in error["message"]
    assert env.ctx.storage.fs.find(f"{env.ctx.storage.root}/{ns}/formatted") == []  # no partial output left

    env.ctx.storage.write_text(ns, "uploads/ok.jsonl", _jsonl(_rows(3)))
    with env.ctx.storage.fs.open(f"{env.ctx.storage.root}/{ns}/uploads/ok.jsonl", "ab") as handle:
        handle.write(b'{"messages": "\xff\xfe"}\n')
    resp = await env.client.get("/api/finetune/download-dataset", headers=alice,
                                params={"dataset_path": "uploads/ok.jsonl", "format_type": "openai_chat_jsonl"})
    assert resp.status_code == 422 and resp.json()["error"]["details"] == {"line": 4}
    assert "UTF-8" in resp.json()["error"]["message"]


async def test_format_dataset_writes_line_by_line_and_replaces_atomically(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    env.ctx.storage.write_text(ns, "uploads/d.jsonl", _jsonl(_rows(500)))
    req = {"dataset_path": "uploads/d.jsonl", "split_name": "train", "format_type": "openai_chat_jsonl",
           "data_strategy": "final_only", "system_message": "sys"}
    out = await env.client.post("/api/finetune/format-dataset", json=req, headers=env.auth("alice"))
    assert out.status_code == 200, out.text
    key = out.json()["output_path"]
    written = [json.loads(line) for line in env.ctx.storage.read_lines(ns, key)]
    assert len(written) == 500 and written[0]["messages"][0] == {"role": "system", "content": "sys"}
    assert env.ctx.storage.fs.find(f"{env.ctx.storage.root}/{ns}/formatted") == [
        f"{env.ctx.storage.root}/{ns}/{key}"]  # the .partial file was moved over the target

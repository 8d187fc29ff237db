"""The SDK against a fake API (httpx.MockTransport): request shapes, typed responses, error classes, SSE parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubetune.api.schemas.sktai import TrainingCreate
from kubetune.client import ApiError, AuthError, Client, NotFoundError

pytestmark = pytest.mark.unit

TRAINING: dict[str, Any] = {
    "id": "uid-1", "numeric_id": 7, "name": "t", "resource_name": "t-abc", "description": None,
    "project_id": "demo", "task_id": None, "status": "running", "phase": "Running", "message": None,
    "trainer_id": "lora-cpu", "trainer_name": "LoRA", "base_model": "tiny", "method": "lora",
    "task": "causal-lm", "dataset": {}, "params": {}, "resource": None,
    "progress": {"step": 3, "total_steps": 10, "epoch": 0.3, "percent": 30.0},
    "metrics": {"loss": 1.5}, "output_uri": None, "serve": False, "inference_service": None,
    "suspended": False, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    "started_at": None, "finished_at": None}


def client(handler: Any, token: str | None = "tok") -> Client:
    return Client("http://api.test", token, transport=httpx.MockTransport(handler))


def test_login_posts_the_password_form_and_returns_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"access_token": "abc", "token_type": "bearer", "expires_in": 3600})

    token = Client.login("http://api.test", "ann", "pw", transport=httpx.MockTransport(handler))
    assert token.access_token == "abc"
    assert seen[0].url.path == "/api/v1/auth/token"
    assert seen[0].headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert b"username=ann" in seen[0].content and b"password=pw" in seen[0].content
    assert "authorization" not in seen[0].headers


def test_requests_carry_the_bearer_token_and_parse_typed_trainings() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        assert req.headers["authorization"] == "Bearer tok"
        return httpx.Response(200, json={"data": [TRAINING], "pagination": {
            "page": 1, "size": 100, "total": 1, "total_pages": 1}})

    items = client(handler).trainings()
    assert items[0].id == "uid-1" and items[0].progress.percent == 30.0


def test_create_training_sends_only_the_set_fields() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        return httpx.Response(201, json=TRAINING)

    spec = TrainingCreate(name="t", base_model="tiny", dataset_id="3", params={"max_steps": 5})
    assert client(handler).create_training(spec).numeric_id == 7
    assert bodies == [{"name": "t", "base_model": "tiny", "dataset_id": "3", "params": {"max_steps": 5}}]


@pytest.mark.parametrize(("status", "kind"), [(401, AuthError), (403, AuthError), (404, NotFoundError),
                                              (409, ApiError), (422, ApiError)])
def test_error_statuses_raise_their_error_class_with_the_detail(status: int, kind: type[ApiError]) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "nope here"})

    with pytest.raises(kind) as info:
        client(handler).training("x")
    assert info.value.status == status and info.value.detail == "nope here"


def test_follow_yields_frames_until_the_end_frame() -> None:
    stream = (
        'event: status\ndata: {"reason": "Running"}\nid: 1\n\n'
        ": keep-alive\n\n"
        'event: progress\ndata: {"step": 2, "total_steps": 4, "percent": 50.0}\nid: 2\n\n'
        'event: end\ndata: {"phase": "Succeeded", "message": null}\nid: 3\n\n'
        'event: status\ndata: {"reason": "never read"}\n\n')

    def handler(req: httpx.Request) -> httpx.Response:
        assert req.url.path == "/api/v1/trainings/uid-1/events/stream"
        return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})

    frames = list(client(handler).follow("uid-1"))
    assert [f.kind for f in frames] == ["status", "progress", "end"]
    assert frames[1].data["step"] == 2 and frames[2].data["phase"] == "Succeeded"


def test_upload_dataset_sends_the_file_and_the_project(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hi"}\n')

    def handler(req: httpx.Request) -> httpx.Response:
        assert req.url.params["project_id"] == "demo"
        assert b'filename="d.jsonl"' in req.content and b'{"text": "hi"}' in req.content
        return httpx.Response(201, json={"id": 1, "name": "d.jsonl"})

    assert client(handler).upload_dataset(data, "demo")["id"] == 1


def test_logs_passes_the_query_and_yields_lines() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        assert dict(req.url.params) == {"follow": "true", "previous": "false", "node": "1", "tail": "5"}
        return httpx.Response(200, text="a\nb\n")

    assert list(client(handler).logs("uid-1", follow=True, node=1, tail=5)) == ["a", "b"]

"""The user commands of `kubetune` against a fake API: output formats, exit codes, config file, train specs."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from test_client_sdk import TRAINING

from kubetune.cli import main
from kubetune.client import Client
from kubetune.client import config as cfg
from kubetune.usercli import account, session
from kubetune.usercli.progress import progress_line, sparkline

pytestmark = pytest.mark.unit


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """A fake API: routes maps (method, path) to a response; every request is recorded."""
    monkeypatch.setenv("KUBETUNE_CONFIG", str(tmp_path / "conf"))
    monkeypatch.delenv("KUBETUNE_URL", raising=False)
    monkeypatch.delenv("KUBETUNE_TOKEN", raising=False)
    state: dict[str, Any] = {"routes": {}, "seen": []}

    def handler(req: httpx.Request) -> httpx.Response:
        state["seen"].append(req)
        route = state["routes"].get((req.method, req.url.path))
        if route is None:
            return httpx.Response(404, json={"detail": "no such thing"})
        return route(req) if callable(route) else route

    transport = httpx.MockTransport(handler)

    class FakeClient(Client):
        def __init__(self, url: str, token: str | None = None, **kw: Any) -> None:
            super().__init__(url, token, transport=transport)

        @classmethod
        def login(cls, url: str, username: str, password: str, **kw: Any) -> Any:
            return Client.login(url, username, password, transport=transport)

    monkeypatch.setattr(session, "Client", FakeClient)
    monkeypatch.setattr(account, "Client", FakeClient)
    return state


def logged_in() -> None:
    cfg.save(cfg.Config(url="http://api.test", token="tok", username="ann"))


def test_login_saves_url_and_token_mode_0600(api: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    api["routes"][("POST", "/api/v1/auth/token")] = httpx.Response(
        200, json={"access_token": "secret-token", "token_type": "bearer", "expires_in": 60})
    monkeypatch.setenv("KUBETUNE_PASSWORD", "pw")
    assert main(["login", "--url", "http://api.test/", "-u", "ann"]) == 0
    path = cfg.config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["token"] == "secret-token"
    assert cfg.load().url == "http://api.test"
    assert "secret-token" not in capsys.readouterr().out


def test_wrong_password_exits_3(api: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    api["routes"][("POST", "/api/v1/auth/token")] = httpx.Response(401, json={"detail": "bad credentials"})
    monkeypatch.setenv("KUBETUNE_PASSWORD", "bad")
    assert main(["login", "--url", "http://api.test", "-u", "ann"]) == 3
    assert not cfg.config_path().exists()


def test_not_logged_in_exits_3(api: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 3
    assert "kubetune login" in capsys.readouterr().err


def test_unknown_training_exits_4(api: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    logged_in()
    assert main(["show", "missing"]) == 4
    assert "no such thing" in capsys.readouterr().err


def test_usage_error_exits_2(api: dict[str, Any]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--method", "bogus"])
    assert info.value.code == 2


def test_server_error_exits_1(api: dict[str, Any]) -> None:
    logged_in()
    api["routes"][("POST", "/api/v1/trainings/x/stop")] = httpx.Response(409, json={"detail": "already done"})
    assert main(["stop", "x"]) == 1


@pytest.mark.parametrize("fmt", ["table", "json", "yaml"])
def test_ls_output_formats(api: dict[str, Any], fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    logged_in()
    api["routes"][("GET", "/api/v1/trainings")] = httpx.Response(200, json={
        "data": [TRAINING], "pagination": {"page": 1, "size": 100, "total": 1, "total_pages": 1}})
    assert main(["ls", "-o", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert json.loads(out)[0]["id"] == "uid-1"
    elif fmt == "yaml":
        assert yaml.safe_load(out)[0]["progress"]["step"] == 3
    else:
        header, row = out.splitlines()
        assert header.split()[:4] == ["ID", "NAME", "STATUS", "PHASE"]
        assert row.split()[:5] == ["uid-1", "t", "running", "Running", "30"]


def test_train_merges_the_yaml_file_and_flags(api: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    logged_in()
    bodies: list[dict[str, Any]] = []

    def create(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        return httpx.Response(201, json=TRAINING)

    api["routes"][("POST", "/api/v1/trainings")] = create
    spec = tmp_path / "t.yaml"
    spec.write_text("name: from-file\nbase_model: tiny\nparams: {max_steps: 10, lora_rank: 8}\n")
    assert main(["train", "-f", str(spec), "--dataset", "3", "-p", "max_steps=20", "-p", "learning_rate=3e-4",
                 "--gpus", "1"]) == 0
    assert capsys.readouterr().out.strip() == "uid-1"
    assert bodies == [{"name": "from-file", "base_model": "tiny", "dataset_id": "3",
                       "params": {"max_steps": 20, "lora_rank": 8, "learning_rate": 3e-4},
                       "resource": {"gpus": 1}}]


def test_train_with_a_bad_field_exits_2_without_a_request(api: dict[str, Any], tmp_path: Path) -> None:
    logged_in()
    spec = tmp_path / "t.yaml"
    spec.write_text("name: x\nbase_model: tiny\nlearning_rate: 1\n")
    assert main(["train", "-f", str(spec)]) == 2
    assert api["seen"] == []


@pytest.mark.parametrize(("phase", "code"), [("Succeeded", 0), ("Failed", 1)])
def test_watch_exit_code_follows_the_end_phase(api: dict[str, Any], phase: str, code: int,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    logged_in()
    stream = ('event: progress\ndata: {"phase": "Running", "step": 5, "total_steps": 10, "percent": 50.0, '
              '"loss": 1.25, "eta_seconds": 65.0, "tokens_per_second": 1200.0}\n\n'
              f'event: end\ndata: {{"phase": "{phase}", "message": "done"}}\n\n')
    api["routes"][("GET", "/api/v1/trainings/uid-1/events/stream")] = httpx.Response(200, text=stream)
    assert main(["watch", "uid-1"]) == code
    out = capsys.readouterr().out
    assert "step 5/10" in out and "loss 1.2500" in out and "eta 1m05s" in out and "1200 tok/s" in out
    assert f"uid-1: {phase}" in out


def test_progress_line_without_numbers_yet() -> None:
    assert progress_line({"phase": "Pending", "step": 0, "total_steps": 0, "percent": 0}).endswith("step 0/0")


def test_sparkline_spans_lowest_to_highest() -> None:
    line = sparkline([3.0, 2.0, 1.0])
    assert len(line) == 3 and line[0] == "█" and line[-1] == "▁"


def test_completion_lists_the_commands(api: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert "complete -o default -F _kubetune kubetune" in out
    top = next(line for line in out.splitlines() if line.strip().startswith('"")'))
    for cmd in ("login", "train", "watch", "logs", "dev", "--version"):
        assert cmd in top.split('"')[3].split()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("kubetune ")


def test_serve_posts_the_training_and_needs_a_source(api: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    logged_in()
    bodies: list[dict[str, Any]] = []

    def create(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        return httpx.Response(201, json={"id": 1, "name": "chat", "project_id": 3, "phase": "Pending",
                                         "training": "run-1", "task": "causal-lm", "replicas": 1,
                                         "ready_replicas": 0, "suspended": False, "inference_url": "u",
                                         "openai_base_url": "u/v1", "managed_by": "platform",
                                         "created_at": "2026-01-01T00:00:00Z"})

    api["routes"][("POST", "/api/v1/projects/demo/inference-services")] = create
    assert main(["serve", "chat", "--project", "demo"]) == 2
    assert main(["serve", "chat", "--project", "demo", "--training", "run-1"]) == 0
    assert bodies == [{"name": "chat", "training": "run-1"}]
    assert "chat: Pending" in capsys.readouterr().out


def test_an_unexpected_response_shape_exits_1(api: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    logged_in()
    api["routes"][("GET", "/api/v1/trainings/x")] = httpx.Response(200, json={"id": "x"})
    assert main(["show", "x"]) == 1
    assert "unexpected response" in capsys.readouterr().err

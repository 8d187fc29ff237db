"""Shared fixtures for the trainer tests: tiny models, memorisable datasets, a stand-in API server.

``FakeApiServer`` is a small real HTTP server on 127.0.0.1 standing in for the Kubernetes API server
in reporter tests: it records every request (method, path, headers, JSON body) and answers PATCHes
from a script of status codes (then 200); ``wait_for`` blocks on a condition, never a sleep.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kubetune.testing.chat_data import memorisable_chat_jsonl


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetune.testing.tiny import make_tiny_causal_lm

    return make_tiny_causal_lm(tmp_path_factory.mktemp("models") / "lm")


@pytest.fixture(scope="session")
def chat_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text(memorisable_chat_jsonl())
    return path


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApiServer:
    port: int = 0
    script: list[int] = field(default_factory=list)  # codes to answer PATCHes with, in order
    event_code: int = 201
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                with owner._cond:
                    if self.command == "PATCH":
                        code = owner.script.pop(0) if owner.script else 200
                    else:
                        code = owner.event_code
                    owner.requests.append(seen)
                    owner._cond.notify_all()
                payload = json.dumps({"kind": "Status", "code": code} if code >= 300 else {"ok": True}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PATCH = do_POST = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def patches(self) -> list[Seen]:
        with self._cond:
            return [r for r in self.requests if r.method == "PATCH"]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.requests), timeout)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def make_server() -> Iterator[Callable[..., FakeApiServer]]:
    started: list[FakeApiServer] = []

    def make(port: int = 0) -> FakeApiServer:
        started.append(FakeApiServer(port=port))
        return started[-1]

    yield make
    for srv in started:
        srv.close()


@pytest.fixture
def server(make_server: Callable[..., FakeApiServer]) -> FakeApiServer:
    return make_server()

"""`kubetune chat` under a pseudo-terminal against a small fake gateway on loopback: the answer streams
in as deltas, the history goes with each turn, an empty line ends the session."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pexpect
import pytest

from kubetune.client import config as cfg

pytestmark = pytest.mark.unit


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            bodies.append({**body, "authorization": self.headers.get("Authorization")})
            turn = sum(m["role"] == "user" for m in body["messages"])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ("answer ", f"number {turn}"):
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", bodies
    server.shutdown()
    server.server_close()


def test_chat_streams_answers_and_keeps_the_history(gateway: tuple[str, list[dict[str, Any]]],
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, bodies = gateway
    monkeypatch.setenv("KUBETUNE_CONFIG", str(tmp_path))
    cfg.save(cfg.Config(url=url, token="tok"))
    env = {**os.environ, "KUBETUNE_CONFIG": str(tmp_path)}
    child = pexpect.spawn(sys.executable, ["-m", "kubetune.cli", "chat", "demo/chat", "--system", "be brief"],
                          env=env, encoding="utf-8", timeout=60)
    child.expect("you> ")
    child.sendline("hello")
    child.expect("model> answer number 1")
    child.expect("you> ")
    child.sendline("again")
    child.expect("model> answer number 2")
    child.expect("you> ")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert [b["model"] for b in bodies] == ["demo/chat", "demo/chat"] and all(b["stream"] for b in bodies)
    assert bodies[0]["authorization"] == "Bearer tok"
    assert bodies[1]["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"},
                                     {"role": "assistant", "content": "answer number 1"},
                                     {"role": "user", "content": "again"}]

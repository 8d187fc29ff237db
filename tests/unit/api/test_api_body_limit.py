"""The request-body limit on a real uvicorn server: refused before parsing and before authentication.

Raw sockets on 127.0.0.1, so the test controls framing (a declared length, or chunks without one)
and keeps sending while it reads, as a client pushing a huge body would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from api_env import make_settings, seed_cluster

from kubetune.api.cluster import INFERENCE_SERVICES
from kubetune.api.cluster.fake import FakeCluster
from kubetune.api.core.body_limit import BodyLimitMiddleware
from kubetune.api.main import create_app

pytestmark = pytest.mark.unit

LIMIT = 64 * 1024
UPLOAD_LIMIT = 256 * 1024
PROXY_LIMIT = 128 * 1024
CHUNK = 16 * 1024
BOUNDARY = "kubetune-test-boundary"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client managed to write before the server answered or closed

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    port: int
    store: Path
    app: Any
    fake: FakeCluster


@pytest_asyncio.fixture(loop_scope="function")
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    settings = make_settings(tmp_path, max_request_bytes=LIMIT, max_upload_bytes=UPLOAD_LIMIT,
                             max_proxy_request_bytes=PROXY_LIMIT)
    fake = FakeCluster()
    await seed_cluster(fake, settings)
    app = create_app(settings, fake)
    # Listening before serve() starts: connections wait in the backlog until start-up is done.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    uv = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    port = sock.getsockname()[1]
    try:
        # Answered once start-up is done (the connection waits in the backlog until then).
        assert (await exchange(port, "GET", "/healthz", {}, [], chunked=False)).status == 200
        await app.state.ctx.users.put_user("alice", "alice-password", "alice@example.com")
        yield Server(port, tmp_path / "store", app, fake)
    finally:
        uv.should_exit = True
        await task
        sock.close()


async def exchange(port: int, method: str, path: str, headers: dict[str, str], chunks: Iterable[bytes],
                   *, chunked: bool) -> Reply:
    """Send the head, then the body chunk by chunk while reading; stop sending once the server answered.

    A raw socket: a write that fails (the server closed after its answer) must not discard what was read.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")

    async def read_until_closed() -> bytes:
        data = b""
        with contextlib.suppress(ConnectionError):  # a refused body ends in a reset, not a FIN
            while block := await loop.sock_recv(sock, 65536):
                data += block
        return data

    response = asyncio.create_task(read_until_closed())
    sent = 0
    with contextlib.suppress(ConnectionError):
        await loop.sock_sendall(sock, ("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in chunks:
            if response.done():
                break
            await loop.sock_sendall(sock, b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            sent += len(chunk)
        if chunked and not response.done():
            await loop.sock_sendall(sock, b"0\r\n\r\n")
    raw = await response
    sock.close()
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    status = int(lines[0].split()[1])
    reply_headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if reply_headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return Reply(status, reply_headers, body, sent)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def _zeros(total: int) -> Iterable[bytes]:
    block = b"0" * CHUNK
    for _ in range(total // CHUNK):
        yield block


async def _token_with_project(port: int) -> tuple[str, dict[str, Any]]:
    """alice's token, and the project she creates (ProjectRead)."""
    form = b"username=alice&password=alice-password"
    reply = await exchange(port, "POST", "/api/v1/auth/token",
                           {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(form))},
                           [form], chunked=False)
    assert reply.status == 200, reply.body
    token = str(reply.json()["access_token"])
    project = json.dumps({"name": "uploads", "description": "body limit"}).encode()
    reply = await exchange(port, "POST", "/api/v1/projects",
                           {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                            "Content-Length": str(len(project))}, [project], chunked=False)
    assert reply.status == 201, reply.body
    return token, reply.json()


def _upload_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def _multipart(payload: bytes, filename: str = "data.jsonl") -> tuple[bytes, bytes]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + payload, f"\r\n--{BOUNDARY}--\r\n".encode()


def test_limit_for_picks_the_longest_prefix() -> None:
    mw = BodyLimitMiddleware(lambda *_: None, default=10,  # type: ignore[arg-type]
                             prefixes=[("/a", 20), ("/a/upload", 30)])
    assert (mw.limit_for("/b"), mw.limit_for("/a/x"), mw.limit_for("/a/upload")) == (10, 20, 30)


@pytest.mark.parametrize(("path", "shape"), [
    ("/api/v1/trainings", "sktai"), ("/api/v1/projects", "platform"), ("/api/finetune/format-dataset", "finetune"),
])
async def test_declared_length_over_the_limit_is_refused_unread_and_unauthenticated(
        server: Server, path: str, shape: str) -> None:
    total = 64 << 20  # declared; the server answers after the head and stops reading
    reply = await exchange(server.port, "POST", path,
                           {"Content-Type": "application/json", "Content-Length": str(total)},
                           _zeros(total), chunked=False)
    assert reply.status == 413
    assert reply.headers["connection"] == "close"
    assert reply.sent < total
    body = reply.json()
    if shape == "sktai":
        assert body["status"] == 413 and body["code"] == "PAYLOAD_TOO_LARGE" and body["path"] == path
    elif shape == "finetune":
        assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    else:
        assert set(body) == {"detail"} and str(LIMIT) in body["detail"]


async def test_chunked_body_over_the_limit_is_cut_off(server: Server) -> None:
    total = 64 << 20
    reply = await exchange(server.port, "POST", "/api/v1/trainings", {"Content-Type": "application/json"},
                           _zeros(total), chunked=True)
    assert reply.status == 413, reply.body
    assert reply.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert reply.sent < total


async def test_chunked_body_under_the_limit_reaches_authentication(server: Server) -> None:
    body = json.dumps({"name": "p", "description": "x" * 1000}).encode()
    reply = await exchange(server.port, "POST", "/api/v1/projects", {"Content-Type": "application/json"},
                           [body[:500], body[500:]], chunked=True)
    assert reply.status == 401, reply.body


async def test_upload_streams_under_its_own_larger_limit(server: Server) -> None:
    token, _ = await _token_with_project(server.port)
    rows = b"".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}" + "x" * 200},
                                             {"role": "assistant", "content": f"a{i}"}]}).encode() + b"\n"
                    for i in range(600))
    assert LIMIT < len(rows) < UPLOAD_LIMIT
    start, end = _multipart(rows)
    reply = await exchange(server.port, "POST", "/api/finetune/upload-dataset",
                           _upload_headers(token),
                           [start[i:i + CHUNK] for i in range(0, len(start), CHUNK)] + [end], chunked=True)
    assert reply.status == 201, reply.body
    assert reply.json()["size"] == len(rows)


async def test_upload_over_its_limit_is_413_and_leaves_no_file(server: Server) -> None:
    token, _ = await _token_with_project(server.port)
    start, _ = _multipart(b"")
    chunks = [start, *_zeros(4 * UPLOAD_LIMIT)]
    reply = await exchange(server.port, "POST", "/api/finetune/upload-dataset",
                           _upload_headers(token),
                           chunks, chunked=True)
    assert reply.status == 413, reply.body
    assert reply.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert not [p for p in server.store.rglob("*") if p.is_file()]


async def _ready_service(server: Server, project: dict[str, Any]) -> str:
    """An InferenceService in alice's project, Ready, whose server echoes how many bytes it got."""
    ctx = server.app.state.ctx
    namespace = project["namespace"]
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "echo"},
            "spec": {"model": {"baseModel": "hf://org/model"}}}
    with ctx.cache.subscribe() as sub:
        await server.fake.create(INFERENCE_SERVICES, body, namespace)
        await server.fake.patch(INFERENCE_SERVICES, "echo", {"status": {"phase": "Ready", "url": "http://echo:8000"}},
                                namespace, "status")
        async with asyncio.timeout(5):
            async for change in sub.changes():
                if change.res == INFERENCE_SERVICES and (change.object.get("status") or {}).get("phase") == "Ready":
                    break

    async def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"received": len(await request.aread())})

    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    return f"/api/v1/inference-services/{project['key']}.echo/infer"


async def test_the_inference_pass_through_streams_under_its_own_limit(server: Server) -> None:
    token, project = await _token_with_project(server.port)
    path = await _ready_service(server, project)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    fits = await exchange(server.port, "POST", path, headers, [b"x" * CHUNK] * (PROXY_LIMIT // CHUNK),
                          chunked=True)
    assert fits.status == 200, fits.body  # above the default limit, within the pass-through's
    assert fits.json() == {"received": PROXY_LIMIT}
    over = await exchange(server.port, "POST", path, headers, _zeros(64 * PROXY_LIMIT), chunked=True)
    assert over.status == 413, over.body
    assert over.json()["error"] == "PAYLOAD_TOO_LARGE"  # seed 002's error shape

"""The facade on the real local control plane, plus a tiny ASGI driver that reads a streaming response."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from kubernetes import client, watch

from kubetune.api.cluster import NAMESPACES
from kubetune.api.cluster.kube import KubeCluster
from kubetune.api.context import AppContext
from kubetune.api.core.config import Settings
from kubetune.api.main import create_app
from kubetune.crd import labels as lbl
from kubetune.localdev.facade_identity import facade_api_client, remove_facade_binding
from kubetune.operator.handlers.project_access import ensure_owner_is_admin
from kubetune.operator.kube import Kube


@dataclass
class Facade:
    app: FastAPI
    ctx: AppContext
    client: httpx.AsyncClient
    prefix: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def login(self, username: str, password: str) -> str:
        resp = await self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


@contextlib.asynccontextmanager
async def facade(api: client.ApiClient, storage: Path) -> AsyncIterator[Facade]:
    """A facade with its own system namespace and project prefix, so tests never see each other's objects."""
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        environment="development",
        storage_root=f"file://{storage}",
        bcrypt_rounds=4,
        system_namespace=f"ktsys-{tag}",
        project_namespace_prefix=f"it{tag}-",
        sse_keepalive_seconds=0.5,
    )
    admin = KubeCluster(api)
    await admin.create(NAMESPACES, {"metadata": {"name": settings.system_namespace}})
    # The facade runs as the chart makes it: its own ServiceAccount, impersonating its callers.
    own = await asyncio.to_thread(facade_api_client, api, settings.system_namespace, tag)
    app = create_app(settings, KubeCluster(own))
    try:
        with project_access(api, settings.project_namespace_prefix):
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://facade", timeout=30) as http:
                    yield Facade(app, app.state.ctx, http, settings.project_namespace_prefix)
    finally:
        own.close()
        await admin.delete(NAMESPACES, settings.system_namespace)
        await asyncio.to_thread(remove_facade_binding, api, tag)


@contextlib.contextmanager
def project_access(api: client.ApiClient, prefix: str) -> Iterator[None]:
    """The operator's project-access handler (ensure_owner_is_admin: a new project's owner becomes its
    admin) over a watch of this test's project Namespaces, without the rest of the operator."""
    stop = threading.Event()
    kube = Kube(api)

    def follow() -> None:
        core = client.CoreV1Api(api)
        while not stop.is_set():
            w = watch.Watch()
            for event in w.stream(core.list_namespace, label_selector=lbl.PROJECT, timeout_seconds=2):
                obj = api.sanitize_for_serialization(event["object"])
                if event["type"] != "DELETED" and obj["metadata"]["name"].startswith(prefix):
                    with contextlib.suppress(Exception):  # as kopf's event handlers: the next event retries
                        ensure_owner_is_admin(kube, obj)
                if stop.is_set():
                    w.stop()

    thread = threading.Thread(target=follow, name="project-access", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


class StreamReader:
    """Drives one GET through the ASGI app and hands out body chunks as they are sent."""

    def __init__(self, app: FastAPI, path: str, headers: dict[str, str]) -> None:
        self.app = app
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self.status: int | None = None
        self._gone = asyncio.Event()
        self._sent_request = False
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": raw_headers,
            "server": ("facade", 80),
            "client": ("test", 1),
            "root_path": "",
        }
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        if not self._sent_request:
            self._sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            await self.chunks.put(message["body"])

    async def __aenter__(self) -> StreamReader:
        self.task = asyncio.create_task(self.app(self.scope, self._receive, self._send))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._gone.set()
        assert self.task is not None
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(self.task, 5)

    async def frames(self) -> AsyncIterator[str]:
        buffer = ""
        while True:
            buffer += (await self.chunks.get()).decode()
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                yield frame

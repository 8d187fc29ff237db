"""The facade over the in-memory fake cluster: an app with its lifespan running, users and projects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from kubetune.api.cache import Change
from kubetune.api.cluster import NAMESPACES, TRAINERS, TRAININGS, Res
from kubetune.api.cluster.fake import FakeCluster
from kubetune.api.context import AppContext
from kubetune.api.core.config import Settings
from kubetune.api.main import create_app

TRAINER_SPEC: dict[str, Any] = {
    "displayName": "LoRA",
    "description": "LoRA fine-tuning",
    "image": "kubetune/trainer:dev",
    "tasks": ["causal-lm"],
    "methods": ["lora", "qlora"],
    "parameters": [
        {"name": "learning_rate", "type": "float", "default": 0.0002, "minimum": 0.0, "maximum": 1.0},
        {"name": "epochs", "type": "float", "default": 3, "minimum": 0, "maximum": 100},
        {"name": "lora_rank", "type": "int", "default": 16, "minimum": 1, "maximum": 256},
    ],
    "models": [
        {
            "id": "llama2-7b",
            "name": "Llama-2-7b-chat-hf",
            "uri": "hf://meta-llama/Llama-2-7b-chat-hf",
            "size": "7B",
            "type": "chat",
            "provider": "meta",
        }
    ],
    "resources": {"gpus": 1, "minGpuMemory": "8Gi"},
}
CHAT_ROWS = [
    {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}
    for i in range(10)
]


@dataclass
class Env:
    app: FastAPI
    ctx: AppContext
    fake: FakeCluster
    client: httpx.AsyncClient
    tokens: dict[str, str]
    projects: dict[str, dict[str, Any]]  # username -> ProjectRead json

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def changed(self, res: Res, action: Callable[[], Any], predicate: Callable[[Change], bool]) -> Change:
        """Run action and wait until the cache has seen the change it causes (no sleeps)."""
        with self.ctx.cache.subscribe() as sub:
            result = action()
            if asyncio.iscoroutine(result):
                await result
            async with asyncio.timeout(5):
                async for change in sub.changes():
                    if change.res == res and predicate(change):
                        return change
        raise AssertionError("no change")

    async def set_status(self, training_uid: str, status: dict[str, Any]) -> dict[str, Any]:
        """Patch a Training's status as the operator or trainer would, and wait for the cache."""
        obj = self.ctx.cache.trainings.by_uid(training_uid)
        assert obj is not None
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        change = await self.changed(
            TRAININGS,
            lambda: self.fake.patch(TRAININGS, name, {"status": status}, ns, "status"),
            lambda c: c.object["metadata"]["uid"] == training_uid,
        )
        return change.object


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(environment="development", storage_root=f"file://{tmp_path}/store", bcrypt_rounds=4, **overrides)


@contextlib.asynccontextmanager
async def running(settings: Settings, fake: FakeCluster) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings, fake)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def seed_cluster(fake: FakeCluster, settings: Settings) -> None:
    await fake.create(NAMESPACES, {"metadata": {"name": settings.system_namespace}})
    await fake.create(
        TRAINERS,
        {"apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": "lora"}, "spec": TRAINER_SPEC},
    )


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    resp = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


@pytest_asyncio.fixture(loop_scope="function")
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    settings = make_settings(tmp_path)
    fake = FakeCluster()
    await seed_cluster(fake, settings)
    async with running(settings, fake) as (app, client):
        ctx: AppContext = app.state.ctx
        await ctx.users.put_user("alice", "alice-password", "alice@example.com")
        await ctx.users.put_user("bob", "bob-password", "bob@example.com")
        tokens = {
            "admin": await login(client, "admin", "admin123"),
            "alice": await login(client, "alice", "alice-password"),
            "bob": await login(client, "bob", "bob-password"),
        }
        projects = {}
        for user in ("alice", "bob"):
            resp = await client.post(
                "/api/v1/projects",
                json={"name": f"{user} project", "description": "demo"},
                headers={"Authorization": f"Bearer {tokens[user]}"},
            )
            assert resp.status_code == 201, resp.text
            projects[user] = resp.json()
        yield Env(app, ctx, fake, client, tokens, projects)


@pytest.fixture
def chat_jsonl() -> bytes:
    import json

    return "".join(json.dumps(r) + "\n" for r in CHAT_ROWS).encode()

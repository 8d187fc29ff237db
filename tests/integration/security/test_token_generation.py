"""A password change or a delete and re-create revokes earlier tokens, with the users Secret on a real API server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from api_facade import Facade, facade
from kubernetes import client

from kubetune.api.context import AppContext
from kubetune.api.main import create_app


@pytest_asyncio.fixture(loop_scope="function")
async def api(api_client: client.ApiClient, tmp_path: Path) -> AsyncIterator[Facade]:
    async with facade(api_client, tmp_path / "store") as f:
        yield f


@contextlib.asynccontextmanager
async def other_replica(api: Facade) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
    """A second facade on the same system namespace, under the same limited identity as the first (the
    chart's ServiceAccount): it learns of user changes only through its watch."""
    app = create_app(api.ctx.settings, api.ctx.own_cluster)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica", timeout=30) as http:
            yield app.state.ctx, http


async def _until_generation(ctx: AppContext, username: str, generation: int) -> None:
    def seen() -> bool:
        record = ctx.users.get(username)
        return record is not None and record.token_generation == generation

    with ctx.cache.subscribe() as sub:
        if seen():
            return
        async with asyncio.timeout(30):
            async for _ in sub.changes():
                if seen():
                    return
    raise AssertionError(f"the replica never saw {username}'s generation {generation}")


def _record(api_client: client.ApiClient, api: Facade, username: str) -> dict[str, Any]:
    """The user's record as the real Secret holds it (read past the facade)."""
    settings = api.ctx.settings
    secret = client.CoreV1Api(api_client).read_namespaced_secret(settings.users_secret, settings.system_namespace)
    return dict(json.loads(base64.b64decode(secret.data[f"user.{username}"])))


async def test_password_change_and_recreation_revoke_tokens(api: Facade, api_client: client.ApiClient) -> None:
    admin = api.auth(await api.login("admin", "admin123"))
    made = await api.client.post("/api/v1/admin/users", headers=admin,
                                 json={"username": "carol", "password": "carol-password"})
    assert made.status_code == 201, made.text
    first = await api.login("carol", "carol-password")
    assert (await api.client.get("/api/v1/auth/me", headers=api.auth(first))).status_code == 200
    assert _record(api_client, api, "carol")["token_generation"] == 0

    async with other_replica(api) as (replica, replica_http):
        assert (await replica_http.get("/api/v1/auth/me", headers=api.auth(first))).status_code == 200
        changed = await api.client.patch("/api/v1/admin/users/carol", headers=admin,
                                         json={"password": "carol-new-pass"})
        assert changed.status_code == 200, changed.text
        assert _record(api_client, api, "carol")["token_generation"] == 1  # in the Secret, for every replica
        revoked = await api.client.get("/api/v1/auth/me", headers=api.auth(first))
        assert revoked.status_code == 401 and revoked.json() == {"detail": "token revoked: log in again"}
        await _until_generation(replica, "carol", 1)  # the other replica's watch brings the change
        assert (await replica_http.get("/api/v1/auth/me", headers=api.auth(first))).status_code == 401
    second = await api.login("carol", "carol-new-pass")
    assert (await api.client.get("/api/v1/auth/me", headers=api.auth(second))).status_code == 200

    old_id = _record(api_client, api, "carol")["id"]
    assert (await api.client.delete("/api/v1/admin/users/carol", headers=admin)).status_code == 204
    again = await api.client.post("/api/v1/admin/users", headers=admin,
                                  json={"username": "carol", "password": "carol-new-pass"})
    assert again.status_code == 201, again.text
    assert _record(api_client, api, "carol")["id"] != old_id
    assert (await api.client.get("/api/v1/auth/me", headers=api.auth(second))).status_code == 401
    third = await api.login("carol", "carol-new-pass")
    assert (await api.client.get("/api/v1/auth/me", headers=api.auth(third))).status_code == 200

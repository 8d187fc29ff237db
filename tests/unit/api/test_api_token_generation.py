"""Earlier tokens stop working after a password change, a deactivation, or a delete and re-create."""

from __future__ import annotations

import httpx
from api_env import Env, login


async def _me(env: Env, token: str) -> httpx.Response:
    return await env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_password_change_revokes_earlier_tokens(env: Env) -> None:
    old = env.tokens["alice"]
    before = env.ctx.users.get("alice")
    assert before is not None and (await _me(env, old)).status_code == 200
    changed = await env.client.patch("/api/v1/admin/users/alice", headers=env.auth("admin"),
                                     json={"password": "a-new-password"})
    assert changed.status_code == 200, changed.text
    after = env.ctx.users.get("alice")
    assert after is not None and after.token_generation == before.token_generation + 1
    refused = await _me(env, old)
    assert refused.status_code == 401 and refused.json() == {"detail": "token revoked: log in again"}
    fresh = await login(env.client, "alice", "a-new-password")
    assert (await _me(env, fresh)).status_code == 200
    # other changes (email, admin flag) leave tokens alone
    await env.client.patch("/api/v1/admin/users/alice", headers=env.auth("admin"), json={"email": "a@b.c"})
    assert (await _me(env, fresh)).status_code == 200


async def test_deactivation_revokes_tokens_for_good(env: Env) -> None:
    old = env.tokens["bob"]
    for active in (False, True):
        resp = await env.client.patch("/api/v1/admin/users/bob", headers=env.auth("admin"),
                                      json={"is_active": active})
        assert resp.status_code == 200, resp.text
    assert (await _me(env, old)).status_code == 401  # reactivated, but the old token stays dead
    assert (await _me(env, await login(env.client, "bob", "bob-password"))).status_code == 200


async def test_deleted_and_recreated_user_does_not_inherit_tokens(env: Env) -> None:
    old = env.tokens["alice"]
    before = env.ctx.users.get("alice")
    assert (await env.client.delete("/api/v1/admin/users/alice", headers=env.auth("admin"))).status_code == 204
    made = await env.client.post("/api/v1/admin/users", headers=env.auth("admin"),
                                 json={"username": "alice", "password": "alice-password"})  # same password
    assert made.status_code == 201, made.text
    after = env.ctx.users.get("alice")
    assert before is not None and after is not None and after.id != before.id
    assert after.token_generation == before.token_generation  # the new id alone tells the tokens apart
    assert (await _me(env, old)).status_code == 401
    assert (await _me(env, await login(env.client, "alice", "alice-password"))).status_code == 200


async def test_a_record_without_a_generation_reads_as_zero(env: Env) -> None:
    from kubetune.api.auth.users import UserRecord

    raw = {"id": 9, "username": "old", "password_hash": "x", "created_at": "2025-01-01T00:00:00Z"}
    assert UserRecord.model_validate(raw).token_generation == 0

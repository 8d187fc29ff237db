"""/api/v1/admin: users and API keys, admins only, kept in the users Secret with optimistic concurrency."""

from __future__ import annotations

import pytest
from api_env import Env

from kubetune.api.auth import users as users_module
from kubetune.api.cluster import SECRETS
from kubetune.api.core.errors import ApiError
from kubetune.api.schemas import admin as s
from kubetune.api.schemas.platform import ProjectList, UserRead

pytestmark = pytest.mark.unit
ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/users", None),
    ("POST", "/api/v1/admin/users", {"username": "eve", "password": "password-1"}),
    ("GET", "/api/v1/admin/users/alice", None),
    ("PATCH", "/api/v1/admin/users/alice", {"is_admin": True}),
    ("DELETE", "/api/v1/admin/users/bob", None),
    ("GET", "/api/v1/admin/api-keys", None),
    ("POST", "/api/v1/admin/api-keys", {"name": "k", "is_admin": True}),
    ("DELETE", "/api/v1/admin/api-keys/" + "0" * 64, None),
]


@pytest.mark.parametrize("method,path,body", ADMIN_ROUTES)
async def test_admin_routes_refuse_everyone_else(env: Env, method: str, path: str, body: object) -> None:
    resp = await env.client.request(method, path, json=body, headers=env.auth("alice"))
    assert resp.status_code == 403 and resp.json() == {"detail": "administrator rights required"}
    resp = await env.client.request(method, path, json=body)
    assert resp.status_code == 401 and resp.json() == {"detail": "Not authenticated"}
    assert env.ctx.users.get("bob") is not None and not env.ctx.users.get("alice").is_admin  # type: ignore[union-attr]


async def _login(env: Env, username: str, password: str) -> int:
    resp = await env.client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return resp.status_code


async def test_user_lifecycle(env: Env) -> None:
    admin = env.auth("admin")
    made = await env.client.post(
        "/api/v1/admin/users", headers=admin,
        json={"username": "carol", "password": "carol-password", "email": "carol@example.com"},
    )
    assert made.status_code == 201, made.text
    carol = UserRead.model_validate(made.json())
    assert not carol.is_admin and carol.is_active and carol.id > 0
    assert "password" not in made.text and "hash" not in made.text
    again = await env.client.post("/api/v1/admin/users", headers=admin,
                                  json={"username": "carol", "password": "other-password"})
    assert again.status_code == 409 and await _login(env, "carol", "carol-password") == 200
    listing = s.UserList.model_validate((await env.client.get("/api/v1/admin/users", headers=admin)).json())
    assert [u.username for u in listing.users] == ["admin", "alice", "bob", "carol"] and listing.total == 4
    page = s.UserList.model_validate(
        (await env.client.get("/api/v1/admin/users?skip=1&limit=2", headers=admin)).json())
    assert [u.username for u in page.users] == ["alice", "bob"]
    assert (await env.client.get("/api/v1/admin/users/carol", headers=admin)).json()["email"] == "carol@example.com"

    token = (await env.client.post("/api/v1/auth/token",
                                   data={"username": "carol", "password": "carol-password"})).json()["access_token"]
    carol_auth = {"Authorization": f"Bearer {token}"}
    assert (await env.client.get("/api/v1/projects", headers=carol_auth)).status_code == 200
    off = await env.client.patch("/api/v1/admin/users/carol", headers=admin, json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert (await env.client.get("/api/v1/projects", headers=carol_auth)).status_code == 401
    reset = await env.client.patch("/api/v1/admin/users/carol", headers=admin,
                                   json={"is_active": True, "password": "new-password"})
    assert reset.status_code == 200
    assert await _login(env, "carol", "carol-password") == 401 and await _login(env, "carol", "new-password") == 200

    assert (await env.client.delete("/api/v1/admin/users/carol", headers=admin)).status_code == 204
    assert (await env.client.get("/api/v1/projects", headers=carol_auth)).status_code == 401
    assert (await env.client.get("/api/v1/admin/users/carol", headers=admin)).status_code == 404
    assert (await env.client.delete("/api/v1/admin/users/carol", headers=admin)).status_code == 404


async def test_admins_cannot_lock_themselves_out_and_inputs_are_checked(env: Env) -> None:
    admin = env.auth("admin")
    assert (await env.client.delete("/api/v1/admin/users/admin", headers=admin)).status_code == 409
    demote = await env.client.patch("/api/v1/admin/users/admin", headers=admin, json={"is_admin": False})
    assert demote.status_code == 409 and "themselves" in demote.json()["detail"]
    for body in ({"username": "../x", "password": "long-enough"}, {"username": "x", "password": "short"},
                 {"username": "x", "password": "long-enough", "role": "root"}):
        resp = await env.client.post("/api/v1/admin/users", headers=admin, json=body)
        assert resp.status_code == 422 and resp.json()["detail"], body
    assert (await env.client.get("/api/v1/admin/users/..%2Fx", headers=admin)).status_code in (404, 422)
    assert (await env.client.patch("/api/v1/admin/users/nobody", headers=admin, json={})).status_code == 404


async def test_api_key_lifecycle(env: Env) -> None:
    admin = env.auth("admin")
    alice_project = env.projects["alice"]
    made = await env.client.post("/api/v1/admin/api-keys", headers=admin,
                                 json={"name": "ci", "project_ids": [alice_project["key"]]})
    assert made.status_code == 201, made.text
    created = s.ApiKeyCreated.model_validate(made.json())
    assert created.key.startswith("kt_") and created.prefix == created.key[:8] and created.created_by == "admin"
    assert created.namespaces == [alice_project["namespace"]]
    key_auth = {"Authorization": f"Bearer {created.key}"}
    seen = ProjectList.model_validate((await env.client.get("/api/v1/projects", headers=key_auth)).json())
    assert [p.id for p in seen.projects] == [alice_project["id"]]
    assert (await env.client.get(f"/api/v1/projects/{env.projects['bob']['id']}", headers=key_auth)).status_code == 403
    assert (await env.client.get("/api/v1/admin/users", headers=key_auth)).status_code == 403

    listing = await env.client.get("/api/v1/admin/api-keys", headers=admin)
    keys = s.ApiKeyList.model_validate(listing.json())
    assert [k.id for k in keys.api_keys] == [created.id] and created.key not in listing.text

    assert (await env.client.delete(f"/api/v1/admin/api-keys/{created.id}", headers=admin)).status_code == 204
    assert (await env.client.get("/api/v1/projects", headers=key_auth)).status_code == 401
    assert (await env.client.delete(f"/api/v1/admin/api-keys/{created.id}", headers=admin)).status_code == 404

    admin_key = s.ApiKeyCreated.model_validate((await env.client.post(
        "/api/v1/admin/api-keys", headers=admin, json={"name": "ops", "is_admin": True})).json())
    as_admin = {"Authorization": f"Bearer {admin_key.key}"}
    assert (await env.client.get("/api/v1/admin/users", headers=as_admin)).status_code == 200
    for body, code in (({"name": "none"}, 422), ({"name": "x", "project_ids": ["no-such-project"]}, 404),
                       ({"name": "", "is_admin": True}, 422)):
        assert (await env.client.post("/api/v1/admin/api-keys", headers=admin, json=body)).status_code == code
    assert (await env.client.delete("/api/v1/admin/api-keys/not-a-hash", headers=admin)).status_code == 422


async def test_a_stale_cache_never_overwrites_a_concurrent_create(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another replica added dave a moment ago; this replica's cache has not seen it yet."""

    async def hash_at_once(password: str) -> str:  # the pool's thread would yield to the informer
        return "x"

    monkeypatch.setattr(env.ctx.users, "hash_password", hash_at_once)
    ns, name = env.ctx.settings.system_namespace, env.ctx.settings.users_secret
    other_replica = users_module.UserRecord.model_validate(
        {"id": 999, "username": "dave", "password_hash": "x", "created_at": "2026-01-01T00:00:00Z"})
    await env.fake.patch(SECRETS, name, {"data": {"user.dave": users_module._encode(other_replica)}}, ns)
    # No await below yields to the loop before the write, so the informer cannot have caught up.
    assert env.ctx.users.get("dave") is None
    gets = env.fake.calls.count(("get", "secrets"))
    with pytest.raises(ApiError) as refused:
        await env.ctx.users.create_user("dave", "dave-password", "", is_admin=False)
    assert refused.value.status == 409 and "already exists" in refused.value.message
    assert env.fake.calls.count(("get", "secrets")) == gets + 1  # the API server's 409 made it reread
    assert env.ctx.users.get("dave").id == 999  # type: ignore[union-attr]  # not overwritten


async def test_a_full_secret_is_507(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users_module, "MAX_SECRET_BYTES", 10)
    resp = await env.client.post("/api/v1/admin/users", headers=env.auth("admin"),
                                 json={"username": "frank", "password": "frank-password"})
    assert resp.status_code == 507 and "full" in resp.json()["detail"]
    assert env.ctx.users.get("frank") is None


async def test_hostile_admin_inputs_never_500(env: Env) -> None:
    admin = env.auth("admin")
    values = ["", "0", "-1", "..", "%00", "💥", "a" * 300, "kt_x", "admin", "f" * 64]
    bodies: list[object] = [None, {}, [], "s", {"username": None}, {"name": "x", "project_ids": ["💥", "../.."]},
                            {"password": "p" * 10_000}, {"is_admin": "yes"}, {"project_ids": "not-a-list"}]
    seen = 0
    for value in values:
        for method, template in (("GET", "/api/v1/admin/users/{}"), ("PATCH", "/api/v1/admin/users/{}"),
                                 ("DELETE", "/api/v1/admin/users/{}"), ("DELETE", "/api/v1/admin/api-keys/{}"),
                                 ("GET", "/api/v1/admin/users?skip={}&limit={}")):
            url = template.replace("{}", value)
            for body in bodies if method == "PATCH" else [None]:
                resp = await env.client.request(method, url, headers=admin, json=body)
                seen += 1
                assert resp.status_code < 500, (method, url, body, resp.text)
    for body in bodies:
        for url in ("/api/v1/admin/users", "/api/v1/admin/api-keys"):
            resp = await env.client.post(url, headers=admin, json=body)
            seen += 1
            assert resp.status_code < 500, (url, body, resp.text)
    assert seen > 100 and env.ctx.users.get("admin") is not None

"""The authorization matrix: no token, bad token, expired token, another project's user, admin, SA, API key."""

from __future__ import annotations

import pytest
from api_env import Env

from kubetune.api.cluster.base import TokenReviewResult
from kubetune.api.core.security import issue_token

pytestmark = pytest.mark.unit

# (method, path template, family's way of reading the message)
PROTECTED = [
    ("GET", "/api/v1/trainings", lambda b: b["message"]),
    ("GET", "/api/finetune/jobs", lambda b: b["error"]["message"]),
    ("GET", "/api/v1/projects", lambda b: b["detail"]),
    ("GET", "/api/v1/services/{key}/trains", lambda b: b["error"]["message"]),
    ("GET", "/api/v1/inference-services/x/infer", lambda b: b["message"]),
]


@pytest.mark.parametrize("method,path,message", PROTECTED)
async def test_no_bad_or_expired_token_is_401_in_family_shape(
    env: Env, method: str, path: str, message: object
) -> None:
    url = path.format(key=env.projects["alice"]["key"])
    secret = env.ctx.settings.jwt_secret.get_secret_value()
    expired = issue_token("alice", secret, 60, now=1_000_000)
    forged = issue_token("alice", "another-secret-that-is-long-enough-000", 3600)
    for headers in (
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": "Bearer kt_unknownkey"},
    ):
        resp = await env.client.request(method, url, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert message(resp.json())  # type: ignore[operator]
    expired_resp = await env.client.request(method, url, headers={"Authorization": f"Bearer {expired}"})
    assert "expired" in message(expired_resp.json()).lower()  # type: ignore[operator]


async def test_health_needs_no_token(env: Env) -> None:
    assert (await env.client.get("/healthz")).json() == {"status": "ok", "cache_synced": None}
    ready = await env.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["cache_synced"] is True


async def test_other_projects_user_is_403_admin_200(env: Env) -> None:
    alice_project = env.projects["alice"]
    for user, code in (("bob", 403), ("admin", 200), ("alice", 200)):
        resp = await env.client.get(f"/api/v1/projects/{alice_project['id']}", headers=env.auth(user))
        assert resp.status_code == code, user
        resp = await env.client.get(f"/api/v1/services/{alice_project['key']}/trains", headers=env.auth(user))
        assert resp.status_code == code, user
        resp = await env.client.get(
            f"/api/finetune/projects/{alice_project['key']}/tasks/t/finetunes", headers=env.auth(user)
        )
        assert resp.status_code == code, user


async def test_service_account_tokens_via_token_review(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    env.fake.tokens["sa-token"] = TokenReviewResult(
        True, f"system:serviceaccount:{ns}:trainer", ("system:serviceaccounts",)
    )
    headers = {"Authorization": "Bearer sa-token"}
    assert (await env.client.get(f"/api/v1/projects/{env.projects['alice']['id']}", headers=headers)).status_code == 200
    assert (await env.client.get(f"/api/v1/projects/{env.projects['bob']['id']}", headers=headers)).status_code == 403
    me = (await env.client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["username"].startswith("system:serviceaccount:")
    env.fake.tokens["user-token"] = TokenReviewResult(True, "jane", ())
    assert (await env.client.get("/api/v1/projects", headers={"Authorization": "Bearer user-token"})).status_code == 401


async def test_api_keys(env: Env) -> None:
    await env.ctx.users.put_api_key("kt_secret-key-1", "ci", [env.projects["bob"]["namespace"]])
    headers = {"Authorization": "Bearer kt_secret-key-1"}
    listing = (await env.client.get("/api/v1/projects", headers=headers)).json()
    assert [p["id"] for p in listing["projects"]] == [env.projects["bob"]["id"]]


async def test_inactive_or_deleted_user_token_stops_working(env: Env) -> None:
    token = env.tokens["alice"]
    secret = env.ctx.users.get("alice")
    assert secret is not None
    from kubetune.api.cluster import SECRETS

    await env.fake.patch(
        SECRETS, env.ctx.settings.users_secret, {"data": {"user.alice": None}}, env.ctx.settings.system_namespace
    )
    env.ctx.cache.remember(
        SECRETS, await env.fake.get(SECRETS, env.ctx.settings.users_secret, env.ctx.settings.system_namespace)
    )
    resp = await env.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401

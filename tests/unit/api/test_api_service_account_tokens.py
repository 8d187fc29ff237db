"""Service-account tokens: only those minted for the facade's audience, and no admin shortcut."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_env import Env, make_settings, running, seed_cluster

from kubetune.api.cluster.base import TokenReviewResult
from kubetune.api.cluster.fake import FakeCluster

SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl"  # JWT-shaped, as the API server mints them


def _sa(namespace: str, name: str, audiences: tuple[str, ...]) -> TokenReviewResult:
    return TokenReviewResult(True, f"system:serviceaccount:{namespace}:{name}",
                             ("system:serviceaccounts", f"system:serviceaccounts:{namespace}"), audiences)


async def test_a_token_for_the_kubetune_audience_is_its_service_account(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, ...]] = []
    review = env.fake.token_review

    async def spy(token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        asked.append(audiences)
        return await review(token, audiences)

    monkeypatch.setattr(env.fake, "token_review", spy)
    ns = env.projects["alice"]["namespace"]
    env.fake.tokens[SA_TOKEN] = _sa(ns, "ci", ("kubetune",))
    me = await env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {SA_TOKEN}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == f"system:serviceaccount:{ns}:ci" and me.json()["is_admin"] is False
    assert asked == [("kubetune",)]  # the review itself asks for the audience


@pytest.mark.parametrize("audiences", [(), ("https://kubernetes.default.svc.cluster.local",), ("vault",)])
async def test_a_pods_default_token_or_another_audience_is_401(env: Env, audiences: tuple[str, ...]) -> None:
    env.fake.tokens[SA_TOKEN] = _sa(env.projects["alice"]["namespace"], "default", audiences)
    for path in ("/api/v1/auth/me", f"/api/v1/projects/{env.projects['alice']['id']}"):
        resp = await env.client.get(path, headers={"Authorization": f"Bearer {SA_TOKEN}"})
        assert resp.status_code == 401 and resp.json() == {"detail": "Could not validate credentials"}
        assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_an_authenticator_that_ignores_audiences_does_not_widen_what_is_accepted(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def careless(token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        return _sa("kt-x", "default", ())  # authenticated, but says nothing about the audience

    monkeypatch.setattr(env.fake, "token_review", careless)
    resp = await env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {SA_TOKEN}"})
    assert resp.status_code == 401


async def test_no_admin_shortcut_for_the_system_namespace_or_masters(env: Env) -> None:
    system = env.ctx.settings.system_namespace
    result = _sa(system, "kubetune-operator", ("kubetune",))
    env.fake.tokens[SA_TOKEN] = TokenReviewResult(True, result.username, (*result.groups, "system:masters"),
                                                  ("kubetune",))
    headers = {"Authorization": f"Bearer {SA_TOKEN}"}
    me = await env.client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["is_admin"] is False
    assert (await env.client.get("/api/v1/admin/users", headers=headers)).status_code == 403


async def test_only_service_accounts_and_only_jwt_shaped_tokens_are_reviewed(env: Env) -> None:
    env.fake.tokens[SA_TOKEN] = TokenReviewResult(True, "jane", ("system:authenticated",), ("kubetune",))
    resp = await env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {SA_TOKEN}"})
    assert resp.status_code == 401  # a person's token (OIDC, static) is not a service account
    reviews = env.fake.calls.count(("create", "tokenreviews"))
    for junk in ("not-a-jwt", "a.b.c.d", "a" * 20000 + ".b.c"):
        resp = await env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {junk}"})
        assert resp.status_code == 401
    assert env.fake.calls.count(("create", "tokenreviews")) == reviews  # none reached the API server


async def test_the_audience_is_a_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, token_audience="ci.example.com")
    fake = FakeCluster()
    await seed_cluster(fake, settings)
    async with running(settings, fake) as (_, client):
        headers = {"Authorization": f"Bearer {SA_TOKEN}"}
        fake.tokens[SA_TOKEN] = _sa("kt-x", "ci", ("kubetune",))
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
        fake.tokens[SA_TOKEN] = _sa("kt-x", "ci", ("ci.example.com",))
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200


async def test_an_address_sending_refused_tokens_is_throttled_before_token_review(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, token_review_failures_per_address=3)
    fake = FakeCluster()
    await seed_cluster(fake, settings)
    async with running(settings, fake) as (_, client):
        fake.tokens[SA_TOKEN] = _sa("kt-x", "default", ())  # a pod's default token: refused
        bad = {"Authorization": f"Bearer {SA_TOKEN}"}
        for _ in range(3):
            assert (await client.get("/api/v1/projects", headers=bad)).status_code == 401
        reviews = fake.calls.count(("create", "tokenreviews"))
        refused = await client.get("/api/v1/projects", headers=bad)
        assert refused.status_code == 429 and set(refused.json()) == {"detail"}
        assert 1 <= int(refused.headers["Retry-After"]) <= settings.login_window_seconds
        assert fake.calls.count(("create", "tokenreviews")) == reviews  # not asked again
        # the facade's own tokens are checked locally and still work from that address
        own = (await client.post("/api/v1/auth/token", data={"username": "admin", "password": "admin123"})).json()
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {own['access_token']}"})
        assert me.status_code == 200

"""The authorization matrix: no token, bad token, expired token, another project's user, admin, SA, API key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from api_env import Env

from kubetune.api.cluster import INFERENCE_SERVICES
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
    ("GET", "/api/v1/admin/users", lambda b: b["detail"]),
]


@pytest.mark.parametrize("method,path,message", PROTECTED)
async def test_no_bad_or_expired_token_is_401_in_family_shape(
    env: Env, method: str, path: str, message: object
) -> None:
    url = path.format(key=env.projects["alice"]["key"])
    secret = env.ctx.settings.jwt_secret.get_secret_value()
    expired = issue_token("alice", secret, 60, now=1_000_000, user_id=2, generation=0)
    forged = issue_token("alice", "another-secret-that-is-long-enough-000", 3600, user_id=2, generation=0)
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
    """A service account's own RBAC decides (no namespace shortcut); see test_api_service_account_tokens.py."""
    from kubetune.api.cluster.resources import ROLE_BINDINGS
    from kubetune.crd import project_roles as pr

    ns = env.projects["alice"]["namespace"]
    for name, token in (("trainer", "h.p.s"), ("unbound", "u.b.s")):
        env.fake.tokens[token] = TokenReviewResult(
            True, f"system:serviceaccount:{ns}:{name}", ("system:serviceaccounts",), audiences=("kubetune",)
        )
    binding = pr.role_binding(ns, "viewer", [pr.subject("User", f"system:serviceaccount:{ns}:trainer")])
    await env.fake.create(ROLE_BINDINGS, binding, ns)
    headers = {"Authorization": "Bearer h.p.s"}
    assert (await env.client.get(f"/api/v1/projects/{env.projects['alice']['id']}", headers=headers)).status_code == 200
    assert (await env.client.get(f"/api/v1/projects/{env.projects['bob']['id']}", headers=headers)).status_code == 403
    unbound = {"Authorization": "Bearer u.b.s"}  # same namespace, no binding: nothing
    assert (await env.client.get(f"/api/v1/projects/{env.projects['alice']['id']}", headers=unbound)).status_code == 403
    me = (await env.client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["username"].startswith("system:serviceaccount:")
    env.fake.tokens["u.t.s"] = TokenReviewResult(True, "jane", (), ("kubetune",))
    assert (await env.client.get("/api/v1/projects", headers={"Authorization": "Bearer u.t.s"})).status_code == 401


async def test_api_keys(env: Env) -> None:
    from kubetune.api import api_key_access

    await env.ctx.users.put_api_key("kt_secret-key-1", "ci", [env.projects["bob"]["namespace"]])
    headers = {"Authorization": "Bearer kt_secret-key-1"}
    listing = (await env.client.get("/api/v1/projects", headers=headers)).json()
    assert listing["projects"] == []  # a key sees what Kubernetes grants it, and nothing is bound yet
    await api_key_access.grant(env.fake, "ci", [env.projects["bob"]["namespace"]])  # as POST /admin/api-keys does
    env.ctx.authorizer.forget()  # answers are cached a few seconds; the route forgets them after a grant
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


def _sktai_403(body: dict[str, Any]) -> bool:
    return set(body) == {"status", "error", "code", "message", "path", "timestamp", "details"} and (
        body["status"], body["error"], body["code"]) == (403, "Forbidden", "FORBIDDEN")


FORBIDDEN_SHAPES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "sktai": _sktai_403,
    "finetune": lambda b: set(b) == {"error"} and b["error"]["code"] == "FORBIDDEN" and bool(b["error"]["message"]),
    "platform": lambda b: set(b) == {"detail"} and bool(b["detail"]),
    "aitems": lambda b: set(b) == {"error"} and b["error"]["errorCode"] == "403" and bool(b["error"]["message"]),
    "inference": lambda b: b["error"] == "FORBIDDEN" and bool(b["message"]) and b["details"] == {},
    "admin": lambda b: b == {"detail": "administrator rights required"},
}


async def _alice_objects(env: Env) -> dict[str, str]:
    """One object per family in alice's project: a training (job), her project, a served model."""
    rows = b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
    up = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("d.jsonl", rows)}, headers=env.auth("alice"))
    job = await env.client.post("/api/finetune/jobs", headers=env.auth("alice"), json={
        "name": "mine", "provider": "LORA", "model_name": "m", "dataset_path": up.json()["path"]})
    assert job.status_code == 201, job.text
    ns = env.projects["alice"]["namespace"]
    isvc = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "chat"},
            "spec": {"model": {"baseModel": "hf://org/model"}}}
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, isvc, ns), lambda c: True)
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.patch(
        INFERENCE_SERVICES, "chat", {"status": {"phase": "Ready", "url": "http://chat.x.svc:8000"}}, ns, "status"),
        lambda c: (c.object.get("status") or {}).get("phase") == "Ready")
    env.ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"ok": True})))
    return {"training": job.json()["job"]["id"], "project": str(env.projects["alice"]["id"]),
            "key": env.projects["alice"]["key"]}


async def test_another_projects_user_gets_403_in_every_familys_shape_and_admin_gets_through(env: Env) -> None:
    ids = await _alice_objects(env)
    routes = {
        "sktai": f"/api/v1/trainings/{ids['training']}",
        "finetune": f"/api/finetune/jobs/{ids['training']}",
        "platform": f"/api/v1/projects/{ids['project']}",
        "aitems": f"/api/v1/services/{ids['key']}/trains",
        "inference": f"/api/v1/inference-services/{ids['key']}.chat/health",
        "admin": "/api/v1/admin/users",
    }
    for family, url in routes.items():
        denied = await env.client.get(url, headers=env.auth("bob"))
        assert denied.status_code == 403, (family, denied.text)
        assert FORBIDDEN_SHAPES[family](denied.json()), (family, denied.json())
        for user in ("admin", "alice") if family != "admin" else ("admin",):
            allowed = await env.client.get(url, headers=env.auth(user))
            assert allowed.status_code == 200, (family, user, allowed.text)
    # Writes are refused the same way: bob cannot stop or cancel alice's training.
    stop = await env.client.post(f"/api/v1/trainings/{ids['training']}/stop", headers=env.auth("bob"))
    cancel = await env.client.post(f"/api/finetune/jobs/{ids['training']}/cancel", headers=env.auth("bob"))
    assert (stop.status_code, cancel.status_code) == (403, 403)
    assert FORBIDDEN_SHAPES["sktai"](stop.json()) and FORBIDDEN_SHAPES["finetune"](cancel.json())

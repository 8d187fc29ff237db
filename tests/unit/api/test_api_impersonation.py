"""Every write goes out as the caller; Kubernetes' answer (here the fake's RBAC over the project roles)
decides; membership lives in RoleBindings the facade edits as the caller."""

from __future__ import annotations

from typing import Any

import pytest
from api_env import Env
from kubernetes import client

from kubetune.api.auth.authorizer import Authorizer
from kubetune.api.cluster import Identity, ResourceAttributes
from kubetune.api.cluster.fake import FakeCluster
from kubetune.api.cluster.kube import KubeCluster

pytestmark = pytest.mark.unit


def test_kube_cluster_sends_one_impersonate_group_header_per_group() -> None:
    sent: list[Any] = []

    class Recorder:
        def request(self, method: str, url: str, headers: Any = None, **_: Any) -> Any:
            sent.append(headers)
            raise RuntimeError("stop")

    cfg = client.Configuration(host="https://127.0.0.1:1")
    api = client.ApiClient(cfg)
    api.rest_client = Recorder()  # type: ignore[assignment]
    user = KubeCluster(api).as_user(Identity("kubetune:user:alice", ("kubetune:users", "kubetune:admins")))
    with pytest.raises(RuntimeError):
        user._call("GET", "/api/v1/namespaces")
    with pytest.raises(RuntimeError):
        KubeCluster(api)._call("GET", "/api/v1/namespaces")
    assert sent[0]["Impersonate-User"] == "kubetune:user:alice"
    assert sent[0].getlist("Impersonate-Group") == ["kubetune:users", "kubetune:admins"]
    assert "Impersonate-User" not in sent[1]  # the facade's own calls are its own


async def test_writes_are_made_as_the_caller(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    env.fake.impersonated.clear()
    resp = await env.client.put(f"/api/v1/projects/{env.projects['alice']['id']}", headers=env.auth("alice"),
                                json={"description": "changed"})
    assert resp.status_code == 200, resp.text
    assert ("patch", "namespaces", "kubetune:user:alice") in env.fake.impersonated
    assert env.ctx.cache.namespaces.get(ns)["metadata"]["annotations"]["kubetune.io/description"] == "changed"


async def test_creating_a_project_waits_for_the_operators_admin_binding(env: Env) -> None:
    ns = env.projects["bob"]["namespace"]
    binding = env.ctx.cache.role_bindings.get("kubetune-admin", ns)
    assert binding is not None
    assert binding["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io",
                                    "name": "kubetune:user:bob"}]
    assert binding["roleRef"]["name"] == "kubetune-project-admin"


async def _add(env: Env, owner: str, name: str, role: str) -> Any:
    return await env.client.post(f"/api/v1/projects/{env.projects[owner]['id']}/members", headers=env.auth(owner),
                                 json={"name": name, "role": role})


async def test_members_roles_are_enforced_by_kubernetes(env: Env) -> None:
    pid, ns = env.projects["alice"]["id"], env.projects["alice"]["namespace"]
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("bob"))).status_code == 403
    assert (await _add(env, "alice", "bob", "viewer")).status_code == 201
    # bob reads now, but Kubernetes refuses his writes
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("bob"))).status_code == 200
    put = await env.client.put(f"/api/v1/projects/{pid}", headers=env.auth("bob"), json={"description": "x"})
    assert put.status_code == 403
    as_viewer = await env.client.put(f"/api/v1/projects/{pid}/members/bob", headers=env.auth("bob"),
                                     json={"role": "admin"})
    assert as_viewer.status_code == 403  # no self-promotion: rolebindings are the admins'
    listing = (await env.client.get(f"/api/v1/projects/{pid}/members", headers=env.auth("bob"))).json()
    assert {(m["name"], m["role"]) for m in listing["members"]} == {("alice", "admin"), ("bob", "viewer")}
    # promoted to editor, then removed
    up = await env.client.put(f"/api/v1/projects/{pid}/members/bob", headers=env.auth("alice"), json={"role": "editor"})
    assert up.status_code == 200 and up.json()["role"] == "editor"
    viewer = env.ctx.cache.role_bindings.get("kubetune-viewer", ns)
    assert viewer is not None and viewer["subjects"] == []
    gone = await env.client.delete(f"/api/v1/projects/{pid}/members/bob", headers=env.auth("alice"))
    assert gone.status_code == 204
    env.ctx.authorizer.forget()
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("bob"))).status_code == 403


async def test_the_last_admin_stays_and_unknown_users_are_refused(env: Env) -> None:
    pid = env.projects["alice"]["id"]
    demote = await env.client.put(f"/api/v1/projects/{pid}/members/alice", headers=env.auth("alice"),
                                  json={"role": "viewer"})
    assert demote.status_code == 409
    assert (await _add(env, "alice", "nobody", "viewer")).status_code == 422
    assert (await _add(env, "alice", "alice", "viewer")).status_code == 409  # already a member: PUT
    bad = await env.client.post(f"/api/v1/projects/{pid}/members", headers=env.auth("alice"),
                                json={"name": "../x", "role": "owner"})
    assert bad.status_code == 422


async def test_platform_admins_are_kubernetes_admins(env: Env) -> None:
    pid = env.projects["alice"]["id"]
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("admin"))).status_code == 200
    assert (await _add(env, "alice", "bob", "editor")).status_code == 201
    removed = await env.client.delete(f"/api/v1/projects/{pid}/members/bob", headers=env.auth("admin"))
    assert removed.status_code == 204


async def test_authorizer_caches_answers_for_a_short_time() -> None:
    fake = FakeCluster()
    now = [0.0]
    authorizer = Authorizer(fake, ttl=5, clock=lambda: now[0])
    who, what = Identity("kubetune:user:x", ("kubetune:users",)), ResourceAttributes("get", "namespaces", namespace="p")
    assert not await authorizer.allowed(who, what)
    fake.authorize = lambda identity, attrs: True
    assert not await authorizer.allowed(who, what)  # still the cached answer
    now[0] = 6
    assert await authorizer.allowed(who, what)
    assert fake.calls.count(("create", "subjectaccessreviews")) == 2


async def test_a_viewer_upload_is_refused_before_anything_reaches_the_store(env: Env, chat_jsonl: bytes) -> None:
    key, ns = env.projects["alice"]["key"], env.projects["alice"]["namespace"]
    assert (await _add(env, "alice", "bob", "viewer")).status_code == 201
    resp = await env.client.post(f"/api/finetune/upload-dataset?project_id={key}", headers=env.auth("bob"),
                                 files={"file": ("d.jsonl", chat_jsonl)})
    assert resp.status_code == 403, resp.text
    store = env.ctx.storage
    assert not store.fs.exists(store.path(ns, "datasets")) or store.fs.ls(store.path(ns, "datasets")) == []
    ok = await env.client.post(f"/api/finetune/upload-dataset?project_id={key}", headers=env.auth("alice"),
                               files={"file": ("d.jsonl", chat_jsonl)})
    assert ok.status_code == 201, ok.text
    assert store.fs.ls(store.path(ns, "datasets"))


def test_each_kind_of_caller_maps_to_its_kubernetes_identity() -> None:
    from kubetune.api.auth.authorizer import identity_of
    from kubetune.api.auth.principal import Principal

    assert identity_of(Principal("alice")) == Identity("kubetune:user:alice", ("kubetune:users",))
    assert identity_of(Principal("root", is_admin=True)) == Identity(
        "kubetune:user:root", ("kubetune:users", "kubetune:admins"))
    assert identity_of(Principal("apikey:ci", kind="apikey")) == Identity("kubetune:apikey:ci", ("kubetune:apikeys",))
    sa = Principal("system:serviceaccount:p:ci", kind="serviceaccount",
                   groups=("system:serviceaccounts", "system:serviceaccounts:p"))
    assert identity_of(sa) == Identity("system:serviceaccount:p:ci", ("system:serviceaccounts",
                                                                      "system:serviceaccounts:p"))


async def test_a_group_can_be_a_member(env: Env) -> None:
    pid = env.projects["alice"]["id"]
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("bob"))).status_code == 403
    added = await env.client.post(f"/api/v1/projects/{pid}/members", headers=env.auth("alice"),
                                  json={"kind": "group", "name": "kubetune:users", "role": "viewer"})
    assert added.status_code == 201 and added.json()["kubernetes_subject"] == "kubetune:users"
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("bob"))).status_code == 200
    gone = await env.client.delete(f"/api/v1/projects/{pid}/members/kubetune:users?kind=group",
                                   headers=env.auth("alice"))
    assert gone.status_code == 204
    env.ctx.authorizer.forget()
    assert (await env.client.get(f"/api/v1/projects/{pid}", headers=env.auth("bob"))).status_code == 403

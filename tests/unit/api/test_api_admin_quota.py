"""GET/PUT /api/v1/admin/projects/{id}/quota: administrators set a project's limits in the platform's namespace."""

from __future__ import annotations

import pytest
from api_env import Env
from kubernetes.client import ApiException

from kubetune.api.cluster import CONFIG_MAPS
from kubetune.crd.project_quota import REVISION_ANNOTATION, override_config_map_name, override_of

pytestmark = pytest.mark.unit


def _url(env: Env, user: str = "alice") -> str:
    return f"/api/v1/admin/projects/{env.projects[user]['id']}/quota"


async def test_an_admin_sets_and_resets_a_projects_limits(env: Env) -> None:
    put = await env.client.put(_url(env), json={"gpus": 1, "memory": "64Gi", "pods": None},
                               headers=env.auth("admin"))
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["overrides"] == {"gpus": 1, "memory": "64Gi", "pods": None}
    assert body["project_key"] == env.projects["alice"]["key"] and body["hard"] is None
    ns = env.ctx.cache.namespaces.by_id(int(env.projects["alice"]["id"]))
    assert ns is not None
    name = ns["metadata"]["name"]
    config_map = await env.fake.get(CONFIG_MAPS, override_config_map_name(name), env.ctx.settings.system_namespace)
    limits, warning = override_of(config_map)
    assert warning is None and limits is not None
    assert limits.hard() == {"requests.nvidia.com/gpu": "1", "requests.memory": "64Gi"}  # pods: lifted
    stamp = ns["metadata"]["annotations"][REVISION_ANNOTATION]
    assert "gpus" not in stamp  # the Namespace (which project admins may patch) carries no limits

    got = await env.client.get(_url(env), headers=env.auth("admin"))
    assert got.status_code == 200 and got.json()["overrides"]["gpus"] == 1

    reset = await env.client.put(_url(env), json={}, headers=env.auth("admin"))
    assert reset.status_code == 200 and reset.json()["overrides"] == {}
    with pytest.raises(ApiException) as gone:
        await env.fake.get(CONFIG_MAPS, override_config_map_name(name), env.ctx.settings.system_namespace)
    assert gone.value.status == 404
    again = env.ctx.cache.namespaces.by_id(int(env.projects["alice"]["id"]))
    assert again is not None and again["metadata"]["annotations"][REVISION_ANNOTATION] != stamp


async def test_only_admins_and_only_valid_limits(env: Env) -> None:
    for user in ("alice", "bob"):
        resp = await env.client.put(_url(env), json={"gpus": 100}, headers=env.auth(user))
        assert resp.status_code == 403, resp.text
    assert (await env.client.get(_url(env), headers=env.auth("alice"))).status_code == 403
    for bad in ({"gpus": -1}, {"memory": "lots"}, {"gpu": 1}):
        resp = await env.client.put(_url(env), json=bad, headers=env.auth("admin"))
        assert resp.status_code == 422, (bad, resp.text)
        assert set(resp.json()) == {"detail"}
    missing = await env.client.put("/api/v1/admin/projects/999999/quota", json={}, headers=env.auth("admin"))
    assert missing.status_code == 404

"""The admin quota route through the real facade, under its chart identity and impersonating callers.

An administrator's limits land where a project's own admins cannot write (a ConfigMap in the platform's
namespace); the project owner, who may patch their own Namespace, gets 403 from the route and is refused
by Kubernetes when writing the override directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from api_facade import Facade, facade
from kubernetes import client

from kubetune.api.auth.principal import USERS_GROUP, kube_user_of
from kubetune.crd.project_quota import OVERRIDE_KEY, QUOTA_NAME, REVISION_ANNOTATION, override_config_map_name

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="function")
async def api(api_client: client.ApiClient, tmp_path: Path) -> AsyncIterator[Facade]:
    async with facade(api_client, tmp_path / "store") as f:
        yield f


def _allowed(api_client: client.ApiClient, user: str, verb: str, resource: str, namespace: str,
             name: str | None = None) -> bool:
    review = client.AuthorizationV1Api(api_client).create_subject_access_review({
        "spec": {"user": kube_user_of(user), "groups": [USERS_GROUP],
                 "resourceAttributes": {"verb": verb, "resource": resource, "namespace": namespace,
                                        **({"name": name} if name else {})}}})
    return bool(review.status.allowed)


async def test_admins_set_quotas_where_project_owners_cannot(api: Facade, api_client: client.ApiClient) -> None:
    admin = api.auth(await api.login("admin", "admin123"))
    made = await api.client.post("/api/v1/admin/users", headers=admin,
                                 json={"username": "dora", "password": "dora-password"})
    assert made.status_code == 201, made.text
    dora = api.auth(await api.login("dora", "dora-password"))
    project = await api.client.post("/api/v1/projects", headers=dora, json={"name": "quota demo"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    url = f"/api/v1/admin/projects/{project_id}/quota"
    namespace = api.prefix + project.json()["key"]
    system = api.ctx.settings.system_namespace

    refused = await api.client.put(url, headers=dora, json={"gpus": 64})
    assert refused.status_code == 403, refused.text

    put = await api.client.put(url, headers=admin, json={"gpus": 2, "memory": "64Gi"})
    assert put.status_code == 200, put.text
    assert put.json()["overrides"] == {"gpus": 2, "memory": "64Gi"}
    core = client.CoreV1Api(api_client)
    stored = core.read_namespaced_config_map(override_config_map_name(namespace), system)
    assert json.loads(stored.data[OVERRIDE_KEY]) == {"gpus": 2, "memory": "64Gi"}
    ns = core.read_namespace(namespace)
    assert REVISION_ANNOTATION in (ns.metadata.annotations or {})
    assert "gpus" not in ns.metadata.annotations[REVISION_ANNOTATION]

    # The owner may patch the project's Namespace (so the limits must not live there) but cannot
    # write the override, nor the ResourceQuota Kubernetes enforces.
    assert _allowed(api_client, "dora", "patch", "namespaces", namespace, namespace)
    for verb in ("create", "update", "patch"):
        assert not _allowed(api_client, "dora", verb, "configmaps", system)
        assert not _allowed(api_client, "dora", verb, "resourcequotas", namespace)

    # What Kubernetes enforces and counts, read as the impersonated admin (the operator's ResourceQuota,
    # written here by the test's admin client; the controller-manager fills in its status).
    core.create_namespaced_resource_quota(namespace, {"metadata": {"name": QUOTA_NAME},
                                                      "spec": {"hard": {"pods": "7"}}})
    for _ in range(100):
        read = await api.client.get(url, headers=admin)
        assert read.status_code == 200, read.text
        if read.json()["hard"] is not None and read.json()["used"] is not None:
            break
        await asyncio.sleep(0.1)  # the quota controller's first status write
    assert read.json()["hard"] == {"pods": "7"} and read.json()["used"] == {"pods": "0"}

    reset = await api.client.put(url, headers=admin, json={})
    assert reset.status_code == 200 and reset.json()["overrides"] == {}
    assert not [c for c in core.list_namespaced_config_map(system).items
                if c.metadata.name == override_config_map_name(namespace)]

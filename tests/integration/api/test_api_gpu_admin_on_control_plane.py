"""The GPU view and the admin routes against the real API server (field selectors, optimistic patches)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_facade import Facade
from kubernetes import client

from kubetune.api.cluster import SECRETS
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import gpu

pytestmark = pytest.mark.integration


def _gpus_on(api: Facade, node: str) -> int:
    return sum(p["gpus"] for p in api.ctx.cache.gpu_pods.all() if p["spec"].get("nodeName") == node)


async def test_gpu_view_counts_pods_of_any_namespace(api: Facade, api_client: client.ApiClient,
                                                     namespace: str) -> None:
    """`namespace` is a plain namespace, not a project: somebody else's workloads."""
    core = client.CoreV1Api(api_client)
    node = f"gpu-{uuid.uuid4().hex[:6]}"
    core.create_node({"metadata": {"name": node, "labels": {gpu.PRODUCT_LABEL: "H100"}},
                      "status": {"capacity": {gpu.GPU: "8", "cpu": "8", "memory": "8Gi", "pods": "110"},
                                 "allocatable": {gpu.GPU: "8", "cpu": "8", "memory": "8Gi", "pods": "110"}}})
    try:
        def pod(name: str, gpus: int) -> dict[str, Any]:
            return {"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [
                {"name": "main", "image": "none", "resources": {"limits": {gpu.GPU: str(gpus)}}}]}}

        core.create_namespaced_pod(namespace, pod("holds-two", 2))  # bound by nodeName: Pending, no kubelet
        core.create_namespaced_pod(namespace, pod("holds-one", 1))
        await api.ctx.cache.until(lambda: _gpus_on(api, node) == 3, 30)
        admin = await api.login("admin", "admin123")
        view = (await api.client.get("/api/v1/gpu", headers=api.auth(admin))).json()
        row = next(n for n in view["nodes"] if n["name"] == node)
        assert (row["capacity"], row["allocated"], row["available"], row["product"]) == (8, 3, 5, "H100")

        # Finishing leaves the informer's field selector: the API server sends DELETED.
        core.patch_namespaced_pod_status("holds-two", namespace, {"status": {"phase": "Succeeded"}})
        await api.ctx.cache.until(lambda: _gpus_on(api, node) == 1, 30)
        view = (await api.client.get("/api/v1/gpu", headers=api.auth(admin))).json()
        assert next(n for n in view["nodes"] if n["name"] == node)["allocated"] == 1
    finally:
        core.delete_node(node)


async def test_admin_routes_and_optimistic_concurrency_on_a_real_secret(api: Facade) -> None:
    admin = api.auth(await api.login("admin", "admin123"))
    name = f"carol-{uuid.uuid4().hex[:6]}"
    made = await api.client.post("/api/v1/admin/users", headers=admin,
                                 json={"username": name, "password": "carol-password"})
    assert made.status_code == 201, made.text
    carol = api.auth(await api.login(name, "carol-password"))
    assert (await api.client.get("/api/v1/admin/users", headers=carol)).status_code == 403

    key = (await api.client.post("/api/v1/admin/api-keys", headers=admin,
                                 json={"name": "ops", "is_admin": True})).json()
    assert (await api.client.get("/api/v1/admin/users", headers=api.auth(key["key"]))).status_code == 200
    assert (await api.client.delete(f"/api/v1/admin/api-keys/{key['id']}", headers=admin)).status_code == 204
    assert (await api.client.get("/api/v1/admin/users", headers=api.auth(key["key"]))).status_code == 401

    # A write computed from a stale copy is refused by the API server (resourceVersion precondition).
    settings = api.ctx.settings
    stale = api.ctx.cache.secrets.get(settings.users_secret, settings.system_namespace)
    assert stale is not None
    await api.ctx.users.delete_user(name)
    api.ctx.cache.secrets.replace_all([stale])  # pretend this replica has not seen the delete
    with pytest.raises(ApiError) as gone:
        await api.ctx.users.update_user(name, email="x@example.com")  # 409 -> reread -> really gone: 404
    assert gone.value.status == 404
    fresh = await api.ctx.cluster.get(SECRETS, settings.users_secret, settings.system_namespace)
    assert f"user.{name}" not in fresh["data"]

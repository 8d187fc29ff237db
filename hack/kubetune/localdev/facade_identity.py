"""The facade's own Kubernetes identity, as the chart gives it, on a local control plane.

The chart's RBAC (charts/kubetune/templates/api/rbac.yaml and project-roles.yaml) is read from the
rendered chart (manifests/base/kubetune.yaml, kept current by `python -m kubetune.chart.generate`),
applied, and bound to a ServiceAccount whose token the facade then uses. So the local platform and
the integration tests run the facade with exactly the rights a real install grants it: it
impersonates its callers and cannot write in a project with its own authority.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.crd import project_roles as pr

Obj = dict[str, Any]
RENDERED_CHART = Path(__file__).resolve().parents[3] / "manifests" / "base" / "kubetune.yaml"
CHART_API_NAME = "kubetune-api"  # the rendered chart's release is "kubetune"
SERVICE_ACCOUNT = "kubetune-api"
PROJECT_ROLE_OBJECTS = {pr.cluster_role_name(r) for r in pr.ROLES} | {pr.PLATFORM_ADMIN_ROLE, pr.TRAINER_READER_ROLE}


def chart_objects(rendered: Path = RENDERED_CHART) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(rendered.read_text()) if doc]


def _one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(found) != 1:
        raise LookupError(f"the rendered chart has {len(found)} {kind} {name!r}: regenerate it")
    return copy.deepcopy(found[0])


def _apply(rbac: client.RbacAuthorizationV1Api, obj: Obj) -> None:
    """Create, or replace when it exists (these objects are the same for every user of the cluster)."""
    kind, name, ns = obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")
    try:
        _write(rbac, kind, None, ns, obj)
    except ApiException as exc:
        if exc.status != 409:
            raise
        _write(rbac, kind, name, ns, obj)


def _write(rbac: client.RbacAuthorizationV1Api, kind: str, name: str | None, ns: str | None, obj: Obj) -> None:
    """Create (name None) or replace one RBAC object."""
    if kind == "ClusterRole":
        rbac.replace_cluster_role(name, obj) if name else rbac.create_cluster_role(obj)
    elif kind == "ClusterRoleBinding":
        rbac.replace_cluster_role_binding(name, obj) if name else rbac.create_cluster_role_binding(obj)
    elif kind == "Role":
        rbac.replace_namespaced_role(name, ns, obj) if name else rbac.create_namespaced_role(ns, obj)
    elif kind == "RoleBinding":
        rbac.replace_namespaced_role_binding(name, ns, obj) if name else rbac.create_namespaced_role_binding(ns, obj)
    else:
        raise ValueError(f"not an RBAC kind: {kind}")


def apply_project_roles(api: client.ApiClient, rendered: Path = RENDERED_CHART) -> None:
    """The project roles and the platform-wide bindings (admins, Trainer readers), as the chart ships them."""
    rbac = client.RbacAuthorizationV1Api(api)
    for obj in chart_objects(rendered):
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding") and obj["metadata"]["name"] in PROJECT_ROLE_OBJECTS:
            _apply(rbac, obj)


def facade_api_client(api: client.ApiClient, system_namespace: str, binding_suffix: str = "",
                      rendered: Path = RENDERED_CHART, token_seconds: int = 24 * 3600) -> client.ApiClient:
    """An ApiClient authenticated as the facade's ServiceAccount in system_namespace, holding the chart's
    facade ClusterRole (cluster-wide binding named kubetune-api[-suffix]) and Role (in system_namespace)."""
    objects = chart_objects(rendered)
    rbac, core = client.RbacAuthorizationV1Api(api), client.CoreV1Api(api)
    apply_project_roles(api, rendered)
    try:
        core.create_namespaced_service_account(system_namespace, {"metadata": {"name": SERVICE_ACCOUNT}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": system_namespace}]
    _apply(rbac, _one(objects, "ClusterRole", CHART_API_NAME))
    binding = _one(objects, "ClusterRoleBinding", CHART_API_NAME)
    binding["metadata"]["name"] = CHART_API_NAME + (f"-{binding_suffix}" if binding_suffix else "")
    binding["subjects"] = subject
    _apply(rbac, binding)
    role = _one(objects, "Role", CHART_API_NAME)
    role["metadata"]["namespace"] = system_namespace
    _apply(rbac, role)
    role_binding = _one(objects, "RoleBinding", CHART_API_NAME)
    role_binding["metadata"]["namespace"] = system_namespace
    role_binding["subjects"] = subject
    _apply(rbac, role_binding)
    return service_account_client(api, system_namespace, SERVICE_ACCOUNT, token_seconds)


def service_account_client(api: client.ApiClient, namespace: str, service_account: str,
                           token_seconds: int = 3600) -> client.ApiClient:
    """An ApiClient for api's server (same host and CA) authenticated only by a fresh token of
    namespace/service_account, so its requests carry that account's rights and nothing of api's."""
    request = client.CoreV1Api(api).create_namespaced_service_account_token(
        service_account, namespace, {"spec": {"expirationSeconds": token_seconds}})
    admin_cfg = api.configuration
    # A new Configuration, not a copy: a kubeconfig loader's refresh hook on the copy would put the admin back.
    cfg = client.Configuration(host=admin_cfg.host)
    cfg.ssl_ca_cert = admin_cfg.ssl_ca_cert
    cfg.verify_ssl = admin_cfg.verify_ssl
    cfg.api_key = {"authorization": f"Bearer {request.status.token}"}
    return client.ApiClient(cfg)


def remove_facade_binding(api: client.ApiClient, binding_suffix: str) -> None:
    """The per-test cluster-wide binding (namespaced objects go with their namespace)."""
    try:
        client.RbacAuthorizationV1Api(api).delete_cluster_role_binding(f"{CHART_API_NAME}-{binding_suffix}")
    except ApiException as exc:
        if exc.status != 404:
            raise

"""An API key's project grants, as RoleBindings Kubernetes enforces.

A key acts as the Kubernetes user `kubetune:apikey:<name>` (admin keys also in kubetune:admins).
When an administrator creates a key for some projects, the facade writes, impersonating that
administrator, one RoleBinding per project making the key an editor there; deleting the key deletes
them. So what a key may touch is what `kubectl auth can-i --as kubetune:apikey:<name>` says.
"""

from __future__ import annotations

import hashlib

from kubernetes.client import ApiException

from kubetune.api.auth.principal import kube_user_of_api_key
from kubetune.api.cluster import ROLE_BINDINGS, Cluster
from kubetune.crd import project_roles as pr

KEY_LABEL = "kubetune.io/api-key"
ROLE: pr.Role = "editor"


def binding_name(key_name: str) -> str:
    """Deterministic and DNS-safe whatever the key's name."""
    return "kubetune-apikey-" + hashlib.sha256(key_name.encode()).hexdigest()[:16]


def binding(namespace: str, key_name: str) -> dict[str, object]:
    body = pr.role_binding(namespace, ROLE, [pr.subject("User", kube_user_of_api_key(key_name))])
    meta = body["metadata"]
    meta["name"] = binding_name(key_name)
    meta["labels"] = {KEY_LABEL: binding_name(key_name).rsplit("-", 1)[1]}  # not a membership binding
    return body


async def grant(cluster: Cluster, key_name: str, namespaces: list[str]) -> None:
    for ns in namespaces:
        try:
            await cluster.create(ROLE_BINDINGS, binding(ns, key_name), ns)
        except ApiException as exc:
            if exc.status != 409:  # an earlier key of that name left it: it grants the same
                raise


async def revoke(cluster: Cluster, key_name: str, namespaces: list[str]) -> None:
    for ns in namespaces:
        try:
            await cluster.delete(ROLE_BINDINGS, binding_name(key_name), ns)
        except ApiException as exc:
            if exc.status != 404:
                raise

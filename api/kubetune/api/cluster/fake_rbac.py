"""Kubernetes RBAC as the fake cluster plays it for unit tests: the project roles of
kubetune.crd.project_roles, bound by the RoleBindings the fake holds, plus the platform admins'
cluster-wide binding and the Trainer readers'. Integration tests use the real API server instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubetune.api.cluster.base import Identity, ResourceAttributes
from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr

Rule = dict[str, Any]
_ROLE_OF = {pr.cluster_role_name(r): r for r in pr.ROLES}


def _matches(rule: Rule, attrs: ResourceAttributes) -> bool:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    names = rule.get("resourceNames") or []
    return (attrs.group in rule["apiGroups"] and resource in rule["resources"] and attrs.verb in rule["verbs"]
            and (not names or attrs.name in names))


def _bound(binding: dict[str, Any], identity: Identity) -> bool:
    for s in binding.get("subjects") or []:
        if s.get("kind") == "User" and s.get("name") == identity.user:
            return True
        if s.get("kind") == "Group" and s.get("name") in identity.groups:
            return True
    return False


def allows(bindings: Iterable[dict[str, Any]], identity: Identity, attrs: ResourceAttributes) -> bool:
    rules: list[Rule] = []
    if pr.ADMINS_GROUP in identity.groups:
        rules += pr.platform_admin_rules()
    if set(identity.groups) & set(pr.SIGNED_IN_GROUPS):
        rules += pr.trainer_reader_rules()
    if attrs.namespace:
        for binding in bindings:
            role = _ROLE_OF.get((binding.get("roleRef") or {}).get("name", ""))
            if role and binding["metadata"].get("namespace") == attrs.namespace and _bound(binding, identity):
                rules += pr.RULES[role]
    return any(_matches(rule, attrs) for rule in rules)


def operator_binding(namespace: dict[str, Any]) -> dict[str, Any] | None:
    """What the operator writes for a new project Namespace with an owner (handlers/project_access.py)."""
    meta = namespace.get("metadata") or {}
    owner = (meta.get("annotations") or {}).get(lbl.OWNER)
    if lbl.PROJECT not in (meta.get("labels") or {}) or not owner:
        return None
    return pr.role_binding(meta["name"], "admin", [pr.user_subject(owner)], labels={lbl.MANAGED_BY: lbl.MANAGER})

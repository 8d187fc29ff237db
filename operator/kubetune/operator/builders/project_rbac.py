"""A project's first member: the RoleBinding that makes the Namespace's owner the project's admin."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr


def owner_of(namespace: dict[str, Any]) -> str | None:
    """The owner a project Namespace names (the facade writes it on create), or None."""
    meta = namespace.get("metadata") or {}
    if lbl.PROJECT not in (meta.get("labels") or {}):
        return None
    owner = (meta.get("annotations") or {}).get(lbl.OWNER) or ""
    return owner or None


def build_admin_binding(namespace: str, owner: str) -> dict[str, Any]:
    """`kubetune-admin` in the project, naming the owner. Later members are added to it (or to the
    viewer/editor bindings) by project admins through the facade, impersonated."""
    return pr.role_binding(namespace, "admin", [pr.user_subject(owner)], labels={lbl.MANAGED_BY: lbl.MANAGER})


def with_owner(binding: dict[str, Any], owner: str) -> list[dict[str, str]] | None:
    """The binding's subjects with the owner added, or None when the owner is already there."""
    subjects: list[dict[str, str]] = list(binding.get("subjects") or [])
    wanted = pr.user_subject(owner)
    if any(s.get("kind") == "User" and s.get("name") == wanted["name"] for s in subjects):
        return None
    return [*subjects, wanted]

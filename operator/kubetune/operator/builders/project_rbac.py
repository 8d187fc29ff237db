"""A project's first member: the RoleBinding that makes the Namespace's owner the project's admin."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr

# On the admin binding: the owner the operator last granted. Membership is the project admins'
# business afterwards: an owner they removed is not granted again by the next Namespace event,
# only when the owner annotation names someone else.
GRANTED_OWNER = f"{lbl.PREFIX}/granted-owner"


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
    binding = pr.role_binding(namespace, "admin", [pr.user_subject(owner)], labels={lbl.MANAGED_BY: lbl.MANAGER})
    binding["metadata"]["annotations"] = {GRANTED_OWNER: owner}
    return binding


def owner_grant(binding: dict[str, Any], owner: str) -> dict[str, Any] | None:
    """The merge patch granting a new owner admin (subject added, grant recorded), or None when this
    owner was granted already, whether or not they are still a member."""
    meta = binding.get("metadata") or {}
    if (meta.get("annotations") or {}).get(GRANTED_OWNER) == owner:
        return None
    subjects: list[dict[str, str]] = list(binding.get("subjects") or [])
    wanted = pr.user_subject(owner)
    if not any(s.get("kind") == "User" and s.get("name") == wanted["name"] for s in subjects):
        subjects.append(wanted)
    return {"metadata": {"resourceVersion": meta.get("resourceVersion"), "annotations": {GRANTED_OWNER: owner}},
            "subjects": subjects}

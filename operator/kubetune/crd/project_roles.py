"""Project membership in Kubernetes terms: three ClusterRoles, one RoleBinding per role per project.

A project is a Namespace; its members are the subjects of the RoleBindings `kubetune-viewer`,
`kubetune-editor` and `kubetune-admin` in it, bound to the ClusterRoles of the same role. The chart
ships the roles (charts/kubetune/templates/project-roles.yaml, kept equal to RULES by a unit test),
the operator writes the first admin binding for a new project's owner, and the facade edits
membership by impersonating the caller, so Kubernetes alone decides who may do what.
"""

from __future__ import annotations

from typing import Any, Literal

from kubetune.crd.base import GROUP

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
USER_PREFIX = "kubetune:user:"  # a facade user as Kubernetes sees it (`kubectl auth can-i --as kubetune:user:x`)
ADMINS_GROUP = "kubetune:admins"  # platform administrators, bound cluster-wide
RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_LABEL = "kubetune.io/project-role"  # on the bindings: which role they grant (the facade's cache selects them)
PLATFORM_ADMIN_ROLE = "kubetune-platform-admin"

_KINDS = ["trainings", "datasets", "inferenceservices"]
_READ = ["get", "list", "watch"]
_WRITE = ["create", "update", "patch", "delete"]

Rule = dict[str, Any]


def cluster_role_name(role: Role) -> str:
    return f"kubetune-project-{role}"


def binding_name(role: Role) -> str:
    """Deterministic: one binding per role per project."""
    return f"kubetune-{role}"


def _viewer() -> list[Rule]:
    return [
        {"apiGroups": [GROUP], "resources": [*_KINDS, "trainings/status", "datasets/status",
                                            "inferenceservices/status"], "verbs": _READ},
        # The project itself: a RoleBinding in the namespace grants `get` on its own Namespace object.
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["events", "pods", "pods/log", "configmaps"], "verbs": _READ},
        # The project's quota and its usage (GET /api/v1/admin/projects/{id}/quota reads them as the caller).
        {"apiGroups": [""], "resources": ["resourcequotas", "limitranges"], "verbs": _READ},
        {"apiGroups": [RBAC_GROUP], "resources": ["rolebindings"], "verbs": _READ},  # who the members are
    ]


def _editor() -> list[Rule]:
    return [
        *_viewer(),
        {"apiGroups": [GROUP], "resources": _KINDS, "verbs": _WRITE},
        # Metric and status callbacks from training code, and per-training user metrics.
        {"apiGroups": [GROUP], "resources": ["trainings/status"], "verbs": ["patch", "update"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": _WRITE},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ]


def _admin() -> list[Rule]:
    names = [binding_name(r) for r in ROLES]
    return [
        *_editor(),
        # The project: rename, describe, delete.
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch", "update", "delete"]},
        # Membership: the three bindings only (create cannot be limited by name; `bind` limits what
        # a created binding may grant to these three roles).
        {"apiGroups": [RBAC_GROUP], "resources": ["rolebindings"], "verbs": ["create"]},
        {"apiGroups": [RBAC_GROUP], "resources": ["rolebindings"], "resourceNames": names,
         "verbs": ["update", "patch", "delete"]},
        {"apiGroups": [RBAC_GROUP], "resources": ["clusterroles"], "verbs": ["bind"],
         "resourceNames": [cluster_role_name(r) for r in ROLES]},
    ]


RULES: dict[Role, list[Rule]] = {"viewer": _viewer(), "editor": _editor(), "admin": _admin()}


def platform_admin_rules() -> list[Rule]:
    """Bound cluster-wide to the group kubetune:admins: a project admin everywhere, plus Trainers
    and every project's Namespace."""
    return [
        *_admin(),
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": _READ},
        {"apiGroups": [GROUP], "resources": ["trainers", "trainers/status"], "verbs": [*_READ, *_WRITE]},
        {"apiGroups": [RBAC_GROUP], "resources": ["rolebindings"], "verbs": [*_READ, *_WRITE]},  # API keys' too
    ]


TRAINER_READER_ROLE = "kubetune-trainer-reader"
SIGNED_IN_GROUPS = ("kubetune:users", "kubetune:apikeys")  # every facade user and API key reads Trainers


def trainer_reader_rules() -> list[Rule]:
    return [{"apiGroups": [GROUP], "resources": ["trainers"], "verbs": _READ}]


def subject(kind: Literal["User", "Group"], name: str) -> dict[str, str]:
    return {"kind": kind, "apiGroup": RBAC_GROUP, "name": name}


def user_subject(username: str) -> dict[str, str]:
    return subject("User", USER_PREFIX + username)


def role_binding(namespace: str, role: Role, subjects: list[dict[str, str]],
                 labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The RoleBinding granting `role` in the project `namespace` to `subjects`."""
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": binding_name(role), "namespace": namespace,
                     "labels": {**(labels or {}), ROLE_LABEL: role}},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cluster_role_name(role)},
        "subjects": subjects,
    }

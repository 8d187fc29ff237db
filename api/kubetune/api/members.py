"""Project membership as Kubernetes holds it: the subjects of a project's role RoleBindings.

Reads come from the watch cache (the bindings' informer); writes go out impersonating the caller,
so only someone Kubernetes lets edit those bindings (a project admin, a platform admin) can change
membership: the facade adds no rule of its own beyond "a project keeps one admin".
"""

from __future__ import annotations

from kubetune.api.auth.principal import USER_PREFIX
from kubetune.api.cache import Cache
from kubetune.api.cluster import ROLE_BINDINGS, Cluster
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.members import MemberKind, MemberRead, RoleName
from kubetune.crd import project_roles as pr

OPERATOR_GRANT_TIMEOUT_SECONDS = 30.0


def kube_subject(kind: MemberKind, name: str) -> dict[str, str]:
    return pr.user_subject(name) if kind == "user" else pr.subject("Group", name)


def _member(subject: dict[str, str], role: RoleName) -> MemberRead | None:
    name = subject.get("name", "")
    if subject.get("kind") == "User" and name.startswith(USER_PREFIX):
        return MemberRead(kind="user", name=name[len(USER_PREFIX):], role=role, kubernetes_subject=name)
    if subject.get("kind") == "Group":
        return MemberRead(kind="group", name=name, role=role, kubernetes_subject=name)
    return None  # service accounts and others bound by hand: not facade members


def bindings(cache: Cache, namespace: str) -> dict[RoleName, Obj | None]:
    return {role: cache.role_bindings.get(pr.binding_name(role), namespace) for role in pr.ROLES}


def members(cache: Cache, namespace: str) -> list[MemberRead]:
    out = []
    for role, binding in bindings(cache, namespace).items():
        for subject in (binding or {}).get("subjects") or []:
            member = _member(subject, role)
            if member is not None:
                out.append(member)
    return sorted(out, key=lambda m: (m.kind, m.name, pr.ROLES.index(m.role)))


def is_admin_member(cache: Cache, namespace: str, username: str) -> bool:
    wanted = kube_subject("user", username)
    admin = bindings(cache, namespace)["admin"] or {}
    return any(_same(s, wanted) for s in admin.get("subjects") or [])


def _same(a: dict[str, str], b: dict[str, str]) -> bool:
    return a.get("kind") == b.get("kind") and a.get("name") == b.get("name")


async def wait_for_owner(cache: Cache, namespace: str, username: str,
                         timeout: float = OPERATOR_GRANT_TIMEOUT_SECONDS) -> None:  # noqa: ASYNC109
    """Until the operator's admin binding for a new project names its creator (a watch, no polling)."""
    await cache.until(lambda: is_admin_member(cache, namespace, username), timeout=timeout)


async def set_role(cluster: Cluster, cache: Cache, namespace: str, kind: MemberKind, name: str,
                   role: RoleName | None) -> None:
    """Give the subject exactly `role` (None: remove it) by editing the three bindings, as the caller.

    The grant is written before the other roles are withdrawn, so a member never holds nothing in
    between; removing the last admin is refused (nobody could manage the project any more).
    """
    subject = kube_subject(kind, name)
    current = bindings(cache, namespace)
    admins = (current["admin"] or {}).get("subjects") or []
    if role != "admin" and any(_same(s, subject) for s in admins) and len(admins) == 1:
        raise ApiError(409, "a project keeps at least one admin: make someone else admin first")
    for r in sorted(pr.ROLES, key=lambda r: r != role):  # the grant first
        binding = current[r]
        subjects = (binding or {}).get("subjects") or []
        holds = any(_same(s, subject) for s in subjects)
        if (r == role) == holds:
            continue  # already as wanted
        if binding is None:
            created = await cluster.create(ROLE_BINDINGS, pr.role_binding(namespace, r, [subject]), namespace)
            cache.remember(ROLE_BINDINGS, created)
            continue
        wanted = [*subjects, subject] if r == role else [s for s in subjects if not _same(s, subject)]
        # A PUT carrying the cached resourceVersion: a concurrent change is a 409, not a lost update.
        replaced = await cluster.replace(ROLE_BINDINGS, pr.binding_name(r), {**binding, "subjects": wanted},
                                         namespace)
        cache.remember(ROLE_BINDINGS, replaced)

"""Finding objects for a caller: projects by any of their ids, objects only in the caller's projects.

Which projects a caller sees is Kubernetes' answer (auth/authorizer.py fills Principal.projects from
SubjectAccessReviews when the request starts); nothing here decides access from annotations or names.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetune.api.auth.principal import Principal
from kubetune.api.cache import Cache, Store
from kubetune.api.core import chosen_project
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj, is_number
from kubetune.crd import labels as lbl


def project_key(ns: Obj) -> str:
    """The project's short name: its label value (the namespace name when unlabelled)."""
    return meta.labels(ns).get(lbl.PROJECT) or meta.name(ns)


def find_project(cache: Cache, ref: str, prefix: str) -> Obj | None:
    """A project by numeric id, namespace name, or project key."""
    store = cache.namespaces
    if is_number(ref):
        return store.by_id(int(ref))
    for candidate in (ref, prefix + ref):
        ns = store.get(candidate)
        if ns is not None:
            return ns
    return next((ns for ns in store.all() if meta.labels(ns).get(lbl.PROJECT) == ref), None)


def project(cache: Cache, principal: Principal, ref: str, prefix: str) -> Obj:
    ns = find_project(cache, ref, prefix)
    if ns is None:
        raise ApiError(404, f"project {ref!r} not found")
    if not principal.can_access(ns):
        raise ApiError(403, f"not allowed to access project {ref!r}")
    return ns


def projects(cache: Cache, principal: Principal) -> list[Obj]:
    return [ns for ns in cache.namespaces.all() if principal.can_access(ns)]


def allowed_namespaces(cache: Cache, principal: Principal) -> set[str]:
    return {meta.name(ns) for ns in projects(cache, principal)}


def visible(cache: Cache, principal: Principal, objs: Iterable[Obj]) -> list[Obj]:
    """Objects in the caller's projects (cluster-scoped objects are visible to everyone signed in)."""
    return [o for o in objs if not meta.namespace(o) or principal.sees_namespace(meta.namespace(o))]


def check_namespace(cache: Cache, principal: Principal, namespace: str) -> None:
    if not principal.sees_namespace(namespace):
        raise ApiError(403, "not allowed to access this project")


def by_uid(cache: Cache, store: Store, principal: Principal, uid: str, what: str) -> Obj:
    obj = store.by_uid(uid)
    if obj is None:
        raise ApiError(404, f"{what} {uid!r} not found")
    if meta.namespace(obj):
        check_namespace(cache, principal, meta.namespace(obj))
    return obj


def default_project(cache: Cache, principal: Principal, explicit: str | None, prefix: str) -> Obj:
    """The project a request without one means: the explicit ref, else the caller's only project, else the
    caller's default project (set at their first project, changed with PUT /api/v1/auth/me/default-project).

    The project used is named in the response's X-Kubetune-Project header (core/chosen_project.py).
    """
    if explicit:
        chosen = project(cache, principal, explicit, prefix)
    else:
        mine = projects(cache, principal)
        if not mine:
            raise ApiError(422, "no project: create one first (POST /api/v1/projects) or pass project_id")
        preferred = [ns for ns in mine if meta.name(ns) == principal.default_project]
        if len(mine) == 1:
            chosen = mine[0]
        elif preferred:
            chosen = preferred[0]
        else:
            raise ApiError(422, "several projects are accessible: pass project_id, or set a default project "
                                "(PUT /api/v1/auth/me/default-project)")
    chosen_project.record(project_key(chosen))
    return chosen

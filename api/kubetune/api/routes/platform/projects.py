"""Projects: Namespaces labelled kubetune.io/project, numeric id and owner in annotations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from kubetune.api import access, members
from kubetune.api.auth.authorizer import identity_of
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import NAMESPACES
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping import platform as m
from kubetune.api.mapping.meta import Obj
from kubetune.api.routes.platform.common import window
from kubetune.api.schemas.platform import ProjectCreate, ProjectList, ProjectRead, ProjectUpdate
from kubetune.crd import labels as lbl

router = APIRouter()


def project_read(ctx: AppContext, ns: Obj) -> ProjectRead:
    owner = ctx.users.get(meta.annotations_of(ns).get(lbl.OWNER, ""))
    return m.project(ns, owner.id if owner else None)


@router.get("/projects", response_model=ProjectList, operation_id="platform_list_projects")
async def list_projects(ctx: ContextDep, user: CurrentUser, skip: Annotated[int, Query(ge=0)] = 0,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ProjectList:
    mine = sorted(access.projects(ctx.cache, user), key=lambda ns: (meta.numeric_id(ns), meta.name(ns)))
    return ProjectList(total=len(mine), projects=[project_read(ctx, ns) for ns in window(mine, skip, limit)])


@router.post("/projects", response_model=ProjectRead, status_code=201, operation_id="platform_create_project")
async def create_project(ctx: ContextDep, user: CurrentUser, body: ProjectCreate) -> ProjectRead:
    if user.kind != "user":
        raise ApiError(403, "only users create projects")
    ident = await ctx.ids.allocate()
    key = meta.object_name(body.name, str(ident), limit=63 - len(ctx.settings.project_namespace_prefix))
    manifest = {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ctx.settings.project_namespace_prefix + key, "labels": {lbl.PROJECT: key},
                     "annotations": {lbl.NUMERIC_ID: str(ident), lbl.OWNER: user.username, m.DISPLAY_NAME: body.name,
                                     lbl.DESCRIPTION: body.description or ""}},
    }
    # The facade's own account creates the Namespace (users cannot create cluster-scoped objects);
    # the operator then binds the creator as the project's admin, and the answer waits for that
    # binding, so the creator's next call already finds the project theirs.
    name = ctx.settings.project_namespace_prefix + key
    ns = ctx.cache.remember(NAMESPACES, await ctx.own_cluster.create(NAMESPACES, manifest))
    try:
        await members.wait_for_owner(ctx.cache, name, user.username)
    except TimeoutError:
        await ctx.own_cluster.delete(NAMESPACES, name)  # no half-made project left behind
        ctx.cache.forget(NAMESPACES, ns)
        raise ApiError(503, "the project's admin RoleBinding was not created in time: is the operator running?"
                       ) from None
    ctx.authorizer.forget(identity_of(user))
    await _default_to_first(ctx, user, name)
    return project_read(ctx, ns)


async def _default_to_first(ctx: AppContext, user: Principal, namespace: str) -> None:
    """A user's first project (or the first after their default was deleted) becomes their default."""
    record = ctx.users.get(user.username)
    if record is None or (record.default_project and ctx.cache.namespaces.get(record.default_project)):
        return
    await ctx.users.update_user(user.username, default_project=namespace)


def _project(ctx: AppContext, user: Principal, project_id: int) -> Obj:
    return access.project(ctx.cache, user, str(project_id), ctx.settings.project_namespace_prefix)


@router.get("/projects/{id}", response_model=ProjectRead, operation_id="platform_get_project")
async def get_project(ctx: ContextDep, user: CurrentUser, id: int) -> ProjectRead:
    return project_read(ctx, _project(ctx, user, id))


@router.put("/projects/{id}", response_model=ProjectRead, operation_id="platform_update_project")
async def update_project(ctx: ContextDep, user: CurrentUser, id: int, body: ProjectUpdate) -> ProjectRead:
    ns = _project(ctx, user, id)
    changes = body.model_dump(exclude_unset=True)
    ann: dict[str, str] = {}
    if changes.get("name") is not None:
        ann[m.DISPLAY_NAME] = changes["name"]
    if "description" in changes:
        ann[lbl.DESCRIPTION] = changes["description"] or ""
    if changes.get("owner_id") is not None:
        if not user.is_admin:
            raise ApiError(403, "only administrators change a project's owner")
        owner = ctx.users.by_id(changes["owner_id"])
        if owner is None:
            raise ApiError(422, f"no user with id {changes['owner_id']}")
        ann[lbl.OWNER] = owner.username
    if ann:
        ns = ctx.cache.remember(NAMESPACES, await ctx.cluster.patch(
            NAMESPACES, meta.name(ns), {"metadata": {"annotations": ann}}))
    return project_read(ctx, ns)


@router.delete("/projects/{id}", status_code=204, response_class=Response, operation_id="platform_delete_project")
async def delete_project(ctx: ContextDep, user: CurrentUser, id: int) -> Response:
    ns = _project(ctx, user, id)
    await ctx.cluster.delete(NAMESPACES, meta.name(ns))
    ctx.cache.forget(NAMESPACES, ns)
    return Response(status_code=204)

"""Project members: list, add, change role, remove. Kubernetes decides who may (impersonated writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from kubetune.api import access, members
from kubetune.api.cluster import ROLE_BINDINGS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.schemas.members import (
    NAME_PATTERN,
    MemberCreate,
    MemberKind,
    MemberList,
    MemberRead,
    MemberUpdate,
    RoleName,
)
from kubetune.crd.project_roles import binding_name

router = APIRouter()
MemberName = Annotated[str, Path(pattern=NAME_PATTERN)]
Kind = Annotated[MemberKind, Query(description="user (a facade username) or group (a Kubernetes group)")]


def _namespace(ctx: AppContext, user: CurrentUser, project_id: int) -> str:
    return meta.name(access.project(ctx.cache, user, str(project_id), ctx.settings.project_namespace_prefix))


async def _may_edit(ctx: AppContext, user: CurrentUser, namespace: str, role: RoleName) -> None:
    """Asked first, so a change that turns out to be a no-op answers as Kubernetes would have."""
    await ctx.authorizer.require(user, "update", ROLE_BINDINGS, namespace, name=binding_name(role))


def _find(ctx: AppContext, namespace: str, kind: MemberKind, name: str) -> MemberRead:
    found = [m for m in members.members(ctx.cache, namespace) if m.kind == kind and m.name == name]
    if not found:
        raise ApiError(404, f"{kind} {name!r} is not a member of this project")
    return found[0]


@router.get("/projects/{project_id}/members", response_model=MemberList, operation_id="platform_list_members")
async def list_members(ctx: ContextDep, user: CurrentUser, project_id: int) -> MemberList:
    found = members.members(ctx.cache, _namespace(ctx, user, project_id))
    return MemberList(total=len(found), members=found)


@router.post("/projects/{project_id}/members", response_model=MemberRead, status_code=201,
             operation_id="platform_add_member")
async def add_member(ctx: ContextDep, user: CurrentUser, project_id: int, body: MemberCreate) -> MemberRead:
    namespace = _namespace(ctx, user, project_id)
    if body.kind == "user" and ctx.users.get(body.name) is None:
        raise ApiError(422, f"no user named {body.name!r}")
    if any(m.kind == body.kind and m.name == body.name for m in members.members(ctx.cache, namespace)):
        raise ApiError(409, f"{body.kind} {body.name!r} is already a member: change the role with PUT")
    await members.set_role(ctx.cluster, ctx.cache, namespace, body.kind, body.name, body.role)
    ctx.authorizer.forget()
    return _find(ctx, namespace, body.kind, body.name)


@router.put("/projects/{project_id}/members/{name}", response_model=MemberRead,
            operation_id="platform_update_member")
async def update_member(ctx: ContextDep, user: CurrentUser, project_id: int, name: MemberName, body: MemberUpdate,
                        kind: Kind = "user") -> MemberRead:
    namespace = _namespace(ctx, user, project_id)
    current = _find(ctx, namespace, kind, name)
    await _may_edit(ctx, user, namespace, current.role)
    await members.set_role(ctx.cluster, ctx.cache, namespace, kind, name, body.role)
    ctx.authorizer.forget()
    return _find(ctx, namespace, kind, name)


@router.delete("/projects/{project_id}/members/{name}", status_code=204, response_class=Response,
               operation_id="platform_remove_member")
async def remove_member(ctx: ContextDep, user: CurrentUser, project_id: int, name: MemberName,
                        kind: Kind = "user") -> Response:
    namespace = _namespace(ctx, user, project_id)
    current = _find(ctx, namespace, kind, name)
    await _may_edit(ctx, user, namespace, current.role)
    await members.set_role(ctx.cluster, ctx.cache, namespace, kind, name, None)
    ctx.authorizer.forget()
    return Response(status_code=204)

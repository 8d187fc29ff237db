"""GET/PUT /api/v1/auth/me/default-project: the project used by routes whose seed has no project parameter.

A user's first project becomes their default (projects.py); they change it here. The choice lives in the
user's record in the users Secret, like the rest of the account (Kubernetes is the only database).
API keys use the first namespace they were granted and cannot change it.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kubetune.api import access
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.routes.platform.projects import project_read
from kubetune.api.schemas.platform import ProjectRead

router = APIRouter()


class DefaultProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=253, description="Numeric id, key or namespace of a project.")


@router.get("/auth/me/default-project", response_model=ProjectRead, operation_id="platform_get_default_project")
async def get_default_project(ctx: ContextDep, user: CurrentUser) -> ProjectRead:
    mine = access.projects(ctx.cache, user)
    chosen = [ns for ns in mine if meta.name(ns) == user.default_project] or (mine if len(mine) == 1 else [])
    if not chosen:
        raise ApiError(404, "no default project: set one with PUT /api/v1/auth/me/default-project")
    return project_read(ctx, chosen[0])


@router.put("/auth/me/default-project", response_model=ProjectRead, operation_id="platform_set_default_project")
async def set_default_project(ctx: ContextDep, user: CurrentUser, body: DefaultProjectUpdate) -> ProjectRead:
    if user.kind != "user":
        raise ApiError(403, "only users have a changeable default project (an API key uses its first project)")
    ns = access.project(ctx.cache, user, body.project_id, ctx.settings.project_namespace_prefix)
    await ctx.users.update_user(user.username, default_project=meta.name(ns))
    return project_read(ctx, ns)

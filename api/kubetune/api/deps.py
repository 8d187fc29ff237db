"""Annotated dependencies the routers declare (FastAPI full-stack template style)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from kubetune.api.auth.authenticate import authenticate
from kubetune.api.auth.principal import Principal
from kubetune.api.cache import Cache
from kubetune.api.cluster import Cluster
from kubetune.api.context import AppContext
from kubetune.api.core.config import Settings

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_context(request: Request) -> AppContext:
    """The app's context with `cluster` bound to this request's caller (impersonated; see
    auth/impersonation.py): whatever a handler writes is checked by Kubernetes as the caller."""
    ctx: AppContext = request.app.state.ctx
    return ctx.for_caller(lambda: getattr(request.state, "principal", None))


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_settings(ctx: ContextDep) -> Settings:
    return ctx.settings


def get_cluster(ctx: ContextDep) -> Cluster:
    return ctx.cluster


def get_cache(ctx: ContextDep) -> Cache:
    return ctx.cache


async def get_current_user(request: Request, ctx: ContextDep,
                           token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """The caller, with the projects Kubernetes lets it see (SubjectAccessReviews, cached a few seconds)."""
    principal = await authenticate(ctx, token, request.client.host if request.client else "unknown")
    names = [ns["metadata"]["name"] for ns in ctx.cache.namespaces.all()]
    cluster_wide, projects = await ctx.authorizer.visibility(principal, names)
    principal = replace(principal, projects=projects, cluster_wide=cluster_wide)
    request.state.principal = principal
    return principal


def get_admin(user: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    from kubetune.api.core.errors import ApiError

    if not user.is_admin:
        raise ApiError(403, "administrator rights required")
    return user


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClusterDep = Annotated[Cluster, Depends(get_cluster)]
CacheDep = Annotated[Cache, Depends(get_cache)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
AdminUser = Annotated[Principal, Depends(get_admin)]

"""Annotated dependencies the routers declare (FastAPI full-stack template style)."""

from __future__ import annotations

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
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_settings(ctx: ContextDep) -> Settings:
    return ctx.settings


def get_cluster(ctx: ContextDep) -> Cluster:
    return ctx.cluster


def get_cache(ctx: ContextDep) -> Cache:
    return ctx.cache


async def get_current_user(ctx: ContextDep, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    return await authenticate(ctx, token)


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

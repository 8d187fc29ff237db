"""/api/v1/admin: users and API keys, for administrators only (403 for everyone else).

Errors use seed 003's `{"detail": ...}` shape, like the rest of /api/v1 outside the other families.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from kubetune.api import access, api_key_access
from kubetune.api.auth.authenticate import API_KEY_PREFIX
from kubetune.api.auth.users import USERNAME_PATTERN, ApiKeyRecord, UserRecord
from kubetune.api.core.errors import ApiError, error_responses
from kubetune.api.deps import AdminUser, ContextDep
from kubetune.api.mapping import meta
from kubetune.api.routes.platform.common import window
from kubetune.api.schemas.admin import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    UserCreate,
    UserList,
    UserUpdate,
)
from kubetune.api.schemas.platform import UserRead

router = APIRouter(prefix="/api/v1/admin", tags=["admin"],
                   responses=error_responses("platform", 401, 403, 404, 409, 422))
Username = Annotated[str, Path(pattern=USERNAME_PATTERN)]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The id a listing shows.")]
Skip = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def user_read(record: UserRecord) -> UserRead:
    return UserRead(id=record.id, username=record.username, email=record.email, is_active=record.is_active,
                    is_admin=record.is_admin, created_at=record.created_at)


def key_read(ident: str, record: ApiKeyRecord) -> ApiKeyRead:
    return ApiKeyRead(id=ident, name=record.name, prefix=record.prefix, namespaces=record.namespaces,
                      is_admin=record.is_admin, created_at=record.created_at, created_by=record.created_by)


@router.get("/users", response_model=UserList, operation_id="admin_list_users")
async def list_users(ctx: ContextDep, admin: AdminUser, skip: Skip = 0, limit: Limit = 100) -> UserList:
    users = ctx.users.users()
    return UserList(total=len(users), users=[user_read(u) for u in window(users, skip, limit)])


@router.post("/users", response_model=UserRead, status_code=201, operation_id="admin_create_user")
async def create_user(ctx: ContextDep, admin: AdminUser, body: UserCreate) -> UserRead:
    record = await ctx.users.create_user(body.username, body.password, body.email, body.is_admin)
    return user_read(record)


@router.get("/users/{username}", response_model=UserRead, operation_id="admin_get_user")
async def get_user(ctx: ContextDep, admin: AdminUser, username: Username) -> UserRead:
    record = ctx.users.get(username)
    if record is None:
        raise ApiError(404, f"user {username!r} not found")
    return user_read(record)


@router.patch("/users/{username}", response_model=UserRead, operation_id="admin_update_user")
async def update_user(ctx: ContextDep, admin: AdminUser, username: Username, body: UserUpdate) -> UserRead:
    """Reset a password, deactivate (tokens stop working at once) or change admin rights."""
    if username == admin.username and (body.is_active is False or body.is_admin is False):
        raise ApiError(409, "administrators cannot deactivate or demote themselves")
    record = await ctx.users.update_user(username, password=body.password, email=body.email,
                                         is_active=body.is_active, is_admin=body.is_admin)
    return user_read(record)


@router.delete("/users/{username}", status_code=204, response_class=Response, operation_id="admin_delete_user")
async def delete_user(ctx: ContextDep, admin: AdminUser, username: Username) -> Response:
    """Tokens of a deleted user stop working at once; the projects they own stay (an admin can hand them on)."""
    if username == admin.username:
        raise ApiError(409, "administrators cannot delete themselves")
    await ctx.users.delete_user(username)
    return Response(status_code=204)


@router.get("/api-keys", response_model=ApiKeyList, operation_id="admin_list_api_keys")
async def list_api_keys(ctx: ContextDep, admin: AdminUser, skip: Skip = 0, limit: Limit = 100) -> ApiKeyList:
    keys = ctx.users.api_keys()
    return ApiKeyList(total=len(keys), api_keys=[key_read(i, r) for i, r in window(keys, skip, limit)])


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, operation_id="admin_create_api_key")
async def create_api_key(ctx: ContextDep, admin: AdminUser, body: ApiKeyCreate) -> ApiKeyCreated:
    """A new random key for service-to-service calls; the response is the only place it is ever shown."""
    if not body.is_admin and not body.project_ids:
        raise ApiError(422, "an API key needs project_ids or is_admin")
    namespaces = sorted({meta.name(access.project(ctx.cache, admin, ref, ctx.settings.project_namespace_prefix))
                         for ref in body.project_ids})
    if any(record.name == body.name for _, record in ctx.users.api_keys()):
        raise ApiError(409, f"an API key named {body.name!r} exists: names are the keys' Kubernetes identities")
    # The grants first, written as the administrator (Kubernetes checks they may grant them).
    await api_key_access.grant(ctx.cluster, body.name, namespaces)
    ctx.authorizer.forget()
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    ident, record = await ctx.users.create_api_key(key, body.name, namespaces, body.is_admin, admin.username)
    return ApiKeyCreated(key=key, **key_read(ident, record).model_dump())


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response, operation_id="admin_delete_api_key")
async def delete_api_key(ctx: ContextDep, admin: AdminUser, key_id: KeyId) -> Response:
    """The key stops working at once, and its RoleBindings go."""
    record = next((r for i, r in ctx.users.api_keys() if i == key_id), None)
    await ctx.users.delete_api_key(key_id)
    if record is not None:
        await api_key_access.revoke(ctx.cluster, record.name, record.namespaces)
        ctx.authorizer.forget()
    return Response(status_code=204)

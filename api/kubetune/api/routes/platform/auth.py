"""POST /api/v1/auth/token (OAuth2 password flow) and GET /api/v1/auth/me.

Logins are throttled (429 with Retry-After) and checked off the event loop (503 with Retry-After when
the bcrypt pool is full): see auth/login.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from kubetune.api.core.errors import ApiError
from kubetune.api.core.security import issue_token
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.schemas.platform import Token, UserRead

router = APIRouter()


@router.post("/auth/token", response_model=Token, operation_id="platform_login",
             responses={401: {"description": "Incorrect username or password"},
                        429: {"description": "Too many failed logins for this user or address (Retry-After)"},
                        503: {"description": "Too many logins in progress (Retry-After)"}})
async def login(ctx: ContextDep, request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    # The peer address as the server saw it; behind a proxy run uvicorn with --forwarded-allow-ips so
    # that X-Forwarded-For is trusted from the proxy only (a client-set header must not pick the bucket).
    address = request.client.host if request.client else "unknown"
    user = await ctx.users.logins.check(form.username, form.password, address)
    lifetime = ctx.settings.jwt_expiry_seconds
    token = issue_token(user.username, ctx.settings.jwt_secret.get_secret_value(), lifetime,
                        user_id=user.id, generation=user.token_generation)
    return Token(access_token=token, expires_in=lifetime)


@router.get("/auth/me", response_model=UserRead, operation_id="platform_me")
async def me(ctx: ContextDep, user: CurrentUser) -> UserRead:
    record = ctx.users.get(user.username)
    if record is None:
        if user.kind == "user":
            raise ApiError(404, "user not found")
        from datetime import UTC, datetime

        return UserRead(id=0, username=user.username, email="", is_active=True, is_admin=user.is_admin,
                        created_at=datetime.fromtimestamp(0, UTC))
    return UserRead(id=record.id, username=record.username, email=record.email, is_active=record.is_active,
                    is_admin=record.is_admin, created_at=record.created_at)

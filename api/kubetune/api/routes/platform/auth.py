"""POST /api/v1/auth/token (OAuth2 password flow) and GET /api/v1/auth/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from kubetune.api.auth.authenticate import unauthorized
from kubetune.api.core.errors import ApiError
from kubetune.api.core.security import issue_token, verify_password
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.schemas.platform import Token, UserRead

router = APIRouter()


@router.post("/auth/token", response_model=Token, operation_id="platform_login")
async def login(ctx: ContextDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = ctx.users.get(form.username)
    if user is None or not user.is_active or not verify_password(form.password, user.password_hash):
        raise unauthorized("Incorrect username or password")
    lifetime = ctx.settings.jwt_expiry_seconds
    token = issue_token(user.username, ctx.settings.jwt_secret.get_secret_value(), lifetime)
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

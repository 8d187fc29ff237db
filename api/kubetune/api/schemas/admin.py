"""Request and response models of the admin family (users and API keys)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kubetune.api.auth.users import USERNAME_PATTERN
from kubetune.api.schemas.platform import UserRead


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN, description="Letters, digits, '.', '_', '-'; 1-63 characters.")
    password: str = Field(min_length=8, max_length=256)
    email: str = Field(default="", max_length=256)
    is_admin: bool = False


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, min_length=8, max_length=256)
    email: str | None = Field(default=None, max_length=256)
    is_active: bool | None = Field(default=None, description="An inactive user's tokens stop working at once.")
    is_admin: bool | None = None


class UserList(BaseModel):
    total: int
    users: list[UserRead]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128, description="What the key is for (shown in listings).")
    project_ids: list[str] = Field(
        default_factory=list, max_length=100,
        description="Projects the key may use: numeric id, project key or namespace name.")
    is_admin: bool = Field(default=False, description="An admin key sees and changes everything.")


class ApiKeyRead(BaseModel):
    id: str = Field(description="The key's SHA-256 (the key itself is shown once, on creation).")
    name: str
    prefix: str = Field(description="The key's first characters.")
    namespaces: list[str]
    is_admin: bool
    created_at: datetime
    created_by: str


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret; send it as `Authorization: Bearer <key>`. Not retrievable later.")


class ApiKeyList(BaseModel):
    total: int
    api_keys: list[ApiKeyRead]

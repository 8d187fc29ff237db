"""Project members (seed 003 style): who holds which project role."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RoleName = Literal["viewer", "editor", "admin"]
MemberKind = Literal["user", "group"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,252}$"


class MemberRead(BaseModel):
    kind: MemberKind
    name: str = Field(description="A facade username, or a Kubernetes group name.")
    role: RoleName
    kubernetes_subject: str = Field(description="The RoleBinding subject, e.g. kubetune:user:alice.")


class MemberList(BaseModel):
    total: int
    members: list[MemberRead]


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: MemberKind = "user"
    name: str = Field(pattern=NAME_PATTERN)
    role: RoleName


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: RoleName

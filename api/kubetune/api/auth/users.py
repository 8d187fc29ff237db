"""Users and API keys, kept in one Kubernetes Secret (read from the cache, written with merge patches).

Layout of the Secret's data (values base64 JSON, as Secrets require):
- ``user.<username>``: {"id", "username", "email", "password_hash", "is_active", "is_admin", "created_at"}
- ``apikey.<sha256 of the key>``: {"name", "namespaces": [...], "is_admin", "created_at"}
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from kubetune.api.cache import Cache
from kubetune.api.cluster import SECRETS, Cluster
from kubetune.api.core.config import Settings
from kubetune.api.core.security import hash_api_key, hash_password
from kubetune.api.mapping.ids import IdAllocator

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class UserRecord(BaseModel):
    id: int
    username: str = Field(pattern=USERNAME_PATTERN)
    email: str = ""
    password_hash: str
    is_active: bool = True
    is_admin: bool = False
    created_at: datetime


class ApiKeyRecord(BaseModel):
    name: str
    namespaces: list[str] = Field(default_factory=list)
    is_admin: bool = False
    created_at: datetime


def _decode(value: str) -> dict[str, Any]:
    data = json.loads(base64.b64decode(value))
    return data if isinstance(data, dict) else {}


def _encode(model: BaseModel) -> str:
    return base64.b64encode(model.model_dump_json().encode()).decode()


class UserStore:
    def __init__(self, cluster: Cluster, cache: Cache, settings: Settings, ids: IdAllocator) -> None:
        self.cluster = cluster
        self.cache = cache
        self.settings = settings
        self.ids = ids

    def _data(self) -> dict[str, str]:
        secret = self.cache.secrets.get(self.settings.users_secret, self.settings.system_namespace)
        return (secret or {}).get("data") or {}

    def get(self, username: str) -> UserRecord | None:
        raw = self._data().get(f"user.{username}")
        if raw is None:
            return None
        try:
            return UserRecord.model_validate(_decode(raw))
        except ValueError:
            return None

    def by_id(self, ident: int) -> UserRecord | None:
        for key in self._data():
            if key.startswith("user."):
                user = self.get(key[5:])
                if user and user.id == ident:
                    return user
        return None

    def api_key(self, key: str) -> ApiKeyRecord | None:
        raw = self._data().get(f"apikey.{hash_api_key(key)}")
        try:
            return ApiKeyRecord.model_validate(_decode(raw)) if raw else None
        except ValueError:
            return None

    async def put_user(self, username: str, password: str, email: str = "", is_admin: bool = False) -> UserRecord:
        existing = self.get(username)
        ident = existing.id if existing else await self.ids.allocate()
        hashed = hash_password(password, self.settings.bcrypt_rounds)
        record = UserRecord(id=ident, username=username, email=email, password_hash=hashed,
                            is_admin=is_admin, created_at=existing.created_at if existing else datetime.now(UTC))
        await self._write({f"user.{username}": _encode(record)})
        return record

    async def put_api_key(self, key: str, name: str, namespaces: list[str], is_admin: bool = False) -> None:
        record = ApiKeyRecord(name=name, namespaces=namespaces, is_admin=is_admin, created_at=datetime.now(UTC))
        await self._write({f"apikey.{hash_api_key(key)}": _encode(record)})

    async def ensure_bootstrap_admin(self) -> None:
        name = self.settings.bootstrap_admin_username
        if self.get(name) is None:
            await self.put_user(name, self.settings.bootstrap_admin_password.get_secret_value(),
                                self.settings.bootstrap_admin_email, is_admin=True)

    async def _write(self, data: dict[str, str]) -> None:
        ns, name = self.settings.system_namespace, self.settings.users_secret
        if self.cache.secrets.get(name, ns) is None:
            try:
                obj = await self.cluster.create(SECRETS, {
                    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": name, "namespace": ns}, "data": data}, ns)
                self.cache.remember(SECRETS, obj)
                return
            except Exception as exc:  # someone else created it first: fall through to the patch
                if getattr(exc, "status", None) != 409:
                    raise
        obj = await self.cluster.patch(SECRETS, name, {"data": data}, ns)
        self.cache.remember(SECRETS, obj)

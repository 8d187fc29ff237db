"""Users and API keys, kept in one Kubernetes Secret (read from the cache, written with merge patches).

Layout of the Secret's data (values base64 JSON, as Secrets require):
- ``user.<username>``: {"id", "username", "email", "password_hash", "is_active", "is_admin", "created_at",
  "token_generation"}
- ``apikey.<sha256 of the key>``: {"name", "namespaces": [...], "is_admin", "created_at", "prefix", "created_by"}

Admin changes (`create_user`, `update_user`, `delete_user`, `create_api_key`, `delete_api_key`) are
merge patches carrying the resourceVersion they were computed from: two replicas racing on the same
user get a 409 from the API server, re-read the Secret and decide again, so a create never
silently overwrites.

Tokens name the user's id and token generation; a password change or a deactivation moves the
generation on, and a user deleted and re-created gets a new id, so earlier tokens stop working on
the next request (authenticate.py compares them with the record in the watch cache).
Password hashes are computed in the PasswordPool's threads, never on the event loop.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiException
from pydantic import BaseModel, Field

from kubetune.api.auth.login import PasswordLogin
from kubetune.api.cache import Cache
from kubetune.api.cluster import SECRETS, Cluster
from kubetune.api.core.config import Settings
from kubetune.api.core.errors import ApiError
from kubetune.api.core.security import PasswordPool, PasswordPoolBusyError, hash_api_key
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
    token_generation: int = Field(default=0, ge=0)  # tokens carry it; moving it on revokes them
    default_project: str = ""  # namespace used by routes whose seed has no project parameter


class ApiKeyRecord(BaseModel):
    name: str
    namespaces: list[str] = Field(default_factory=list)
    is_admin: bool = False
    created_at: datetime
    prefix: str = ""  # the key's first characters, so people can tell their keys apart
    created_by: str = ""


Data = dict[str, str]
Mutation = Callable[[Data], dict[str, str | None]]
USER_PREFIX = "user."
KEY_PREFIX = "apikey."
# A Secret holds at most 1 MiB; stop well before, so a full store is a clear 507, not an API server error.
MAX_SECRET_BYTES = 900 * 1024
MAX_ATTEMPTS = 10


def _decode(value: str) -> dict[str, Any]:
    data = json.loads(base64.b64decode(value))
    return data if isinstance(data, dict) else {}


def _encode(model: BaseModel) -> str:
    return base64.b64encode(model.model_dump_json().encode()).decode()


def _user(raw: str | None) -> UserRecord | None:
    try:
        return UserRecord.model_validate(_decode(raw)) if raw else None
    except ValueError:
        return None


def _api_key(raw: str | None) -> ApiKeyRecord | None:
    try:
        return ApiKeyRecord.model_validate(_decode(raw)) if raw else None
    except ValueError:
        return None


class UserStore:
    def __init__(self, cluster: Cluster, cache: Cache, settings: Settings, ids: IdAllocator) -> None:
        self.cluster = cluster
        self.cache = cache
        self.settings = settings
        self.ids = ids
        self.passwords = PasswordPool(settings.password_hash_workers, settings.password_hash_queue,
                                      settings.bcrypt_rounds)
        self.logins = PasswordLogin(self, settings)  # throttled, constant-cost password checks

    async def hash_password(self, password: str) -> str:
        try:
            return await self.passwords.hash(password)
        except PasswordPoolBusyError as exc:
            raise ApiError(503, "too many password operations in progress; try again shortly",
                           headers={"Retry-After": str(exc.retry_after)}) from exc

    def _data(self) -> dict[str, str]:
        secret = self.cache.secrets.get(self.settings.users_secret, self.settings.system_namespace)
        return (secret or {}).get("data") or {}

    def get(self, username: str) -> UserRecord | None:
        return _user(self._data().get(f"{USER_PREFIX}{username}"))

    def users(self) -> list[UserRecord]:
        """Every readable user, by id."""
        found = (_user(raw) for key, raw in self._data().items() if key.startswith(USER_PREFIX))
        return sorted((u for u in found if u is not None), key=lambda u: (u.id, u.username))

    def api_keys(self) -> list[tuple[str, ApiKeyRecord]]:
        """(id, record) of every readable API key; the id is the key's SHA-256, which reveals nothing."""
        out = []
        for key, raw in self._data().items():
            record = _api_key(raw) if key.startswith(KEY_PREFIX) else None
            if record is not None:
                out.append((key[len(KEY_PREFIX):], record))
        return sorted(out, key=lambda item: (item[1].created_at, item[0]))

    def by_id(self, ident: int) -> UserRecord | None:
        for key in self._data():
            if key.startswith("user."):
                user = self.get(key[5:])
                if user and user.id == ident:
                    return user
        return None

    def api_key(self, key: str) -> ApiKeyRecord | None:
        return _api_key(self._data().get(f"{KEY_PREFIX}{hash_api_key(key)}"))

    async def put_user(self, username: str, password: str, email: str = "", is_admin: bool = False) -> UserRecord:
        existing = self.get(username)
        ident = existing.id if existing else await self.ids.allocate()
        hashed = await self.hash_password(password)
        record = UserRecord(id=ident, username=username, email=email, password_hash=hashed,
                            is_admin=is_admin, created_at=existing.created_at if existing else datetime.now(UTC),
                            token_generation=existing.token_generation + 1 if existing else 0)
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

    # -- admin changes, with optimistic concurrency --------------------------------
    async def create_user(self, username: str, password: str, email: str, is_admin: bool) -> UserRecord:
        ident = await self.ids.allocate()  # numbers are never reused, so one lost to a 409 costs nothing
        hashed = await self.hash_password(password)
        record = UserRecord(id=ident, username=username, email=email, password_hash=hashed, is_admin=is_admin,
                            created_at=datetime.now(UTC))

        def add(data: Data) -> dict[str, str | None]:
            if f"{USER_PREFIX}{username}" in data:
                raise ApiError(409, f"user {username!r} already exists")
            return {f"{USER_PREFIX}{username}": _encode(record)}

        await self._change(add)
        return record

    async def update_user(self, username: str, *, password: str | None = None, email: str | None = None,
                          is_active: bool | None = None, is_admin: bool | None = None,
                          default_project: str | None = None) -> UserRecord:
        hashed = await self.hash_password(password) if password is not None else None
        updated: list[UserRecord] = []

        def change(data: Data) -> dict[str, str | None]:
            current = _user(data.get(f"{USER_PREFIX}{username}"))
            if current is None:
                raise ApiError(404, f"user {username!r} not found")
            fields: dict[str, object] = {"password_hash": hashed, "email": email, "is_active": is_active,
                                         "is_admin": is_admin, "default_project": default_project}
            if hashed is not None or is_active is False:  # a new password or a deactivation revokes tokens
                fields["token_generation"] = current.token_generation + 1
            record = current.model_copy(update={k: v for k, v in fields.items() if v is not None})
            updated[:] = [record]
            return {f"{USER_PREFIX}{username}": _encode(record)}

        await self._change(change)
        return updated[0]

    async def delete_user(self, username: str) -> None:
        await self._remove(f"{USER_PREFIX}{username}", f"user {username!r}")

    async def create_api_key(self, key: str, name: str, namespaces: list[str], is_admin: bool,
                             created_by: str) -> tuple[str, ApiKeyRecord]:
        ident = hash_api_key(key)
        record = ApiKeyRecord(name=name, namespaces=namespaces, is_admin=is_admin, created_at=datetime.now(UTC),
                              prefix=key[:8], created_by=created_by)

        def add(data: Data) -> dict[str, str | None]:
            return {f"{KEY_PREFIX}{ident}": _encode(record)}

        await self._change(add)
        return ident, record

    async def delete_api_key(self, ident: str) -> None:
        await self._remove(f"{KEY_PREFIX}{ident}", f"API key {ident!r}")

    async def _remove(self, key: str, what: str) -> None:
        """Drop one entry of the Secret; 404 naming `what` when it is not there."""

        def remove(data: Data) -> dict[str, str | None]:
            if key not in data:
                raise ApiError(404, f"{what} not found")
            return {key: None}

        await self._change(remove)

    async def _change(self, mutate: Mutation) -> None:
        """Apply `mutate` (data -> the keys to set or remove) to the Secret it was computed from."""
        ns, name = self.settings.system_namespace, self.settings.users_secret
        secret = self.cache.secrets.get(name, ns)
        for _ in range(MAX_ATTEMPTS):
            data = dict((secret or {}).get("data") or {})
            patch = mutate(data)
            after = {**data, **{k: v for k, v in patch.items() if v is not None}}
            if sum(len(k) + len(v) for k, v in after.items()) > MAX_SECRET_BYTES:
                raise ApiError(507, "the users Secret is full: delete unused users or API keys")
            try:
                if secret is None:
                    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": name, "namespace": ns}, "data": after}
                    obj = await self.cluster.create(SECRETS, body, ns)
                else:
                    rv = secret["metadata"].get("resourceVersion")
                    obj = await self.cluster.patch(SECRETS, name, {"metadata": {"resourceVersion": rv},
                                                                   "data": patch}, ns)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                secret = self.cache.remember(SECRETS, await self.cluster.get(SECRETS, name, ns))  # moved on: reread
                continue
            self.cache.remember(SECRETS, obj)
            return
        raise ApiError(409, "the users Secret is being changed concurrently; try again")

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

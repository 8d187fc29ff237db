"""Password logins: throttled per username and client address, checked in the bcrypt pool.

Every attempt costs the same whatever the username: an unknown or inactive user is checked against
a dummy hash (the same bcrypt cost) and fails with the same message, and the throttle counts unknown
usernames like known ones, so neither timing, status nor Retry-After tells which users exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetune.api.auth.throttle import LoginThrottle, LoginThrottledError
from kubetune.api.core.config import Settings
from kubetune.api.core.errors import ApiError
from kubetune.api.core.security import PasswordPoolBusyError

if TYPE_CHECKING:  # the store owns its PasswordLogin (users.py imports this module)
    from kubetune.api.auth.users import UserRecord, UserStore

BAD_CREDENTIALS = "Incorrect username or password"


class PasswordLogin:
    def __init__(self, users: UserStore, settings: Settings) -> None:
        self.users = users
        self.throttle = LoginThrottle.from_settings(settings)

    async def check(self, username: str, password: str, address: str) -> UserRecord:
        """The user whose password this is, or ApiError 401 (wrong), 429 (throttled), 503 (pool full)."""
        try:
            self.throttle.admit(username, address)
        except LoginThrottledError as exc:
            raise ApiError(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
        user = self.users.get(username)
        try:
            ok = await self.users.passwords.verify(password, user.password_hash if user else None)
        except PasswordPoolBusyError as exc:
            raise ApiError(503, "too many logins in progress; try again shortly",
                           headers={"Retry-After": str(exc.retry_after)}) from exc
        if not ok or user is None or not user.is_active:
            raise ApiError(401, BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
        self.throttle.succeeded(username, address)
        return user

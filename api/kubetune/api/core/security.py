"""Password hashes (bcrypt, run in a bounded thread pool) and the facade's own JWTs (HS256, pyjwt)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import bcrypt
import jwt

ALGORITHM = "HS256"
KEY_ID = "kubetune"  # marks tokens this facade issued; anything else goes to TokenReview
BCRYPT_MAX_BYTES = 72
WORKER_NICENESS = 10  # how much lower than the event loop's thread the hashing threads run
T = TypeVar("T")


class InvalidTokenError(Exception):
    """The token is not one of ours, is malformed, expired or badly signed."""


class PasswordPoolBusyError(Exception):
    """Every worker is hashing and the queue is full: the caller should answer 503 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many password checks in progress")
        self.retry_after = retry_after


def _raw(password: str) -> bytes:
    # bcrypt only looks at 72 bytes; pre-hash longer passwords so none is silently truncated.
    raw = password.encode()
    return hashlib.sha256(raw).hexdigest().encode() if len(raw) > BCRYPT_MAX_BYTES else raw


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(_raw(password), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_raw(password), hashed.encode())
    except ValueError:
        return False


def _yield_to_the_loop() -> None:
    """Run this (worker) thread at a lower CPU priority than the event loop's thread.

    Linux schedules threads one by one, and a thread may lower its own priority without any
    privilege: when CPU is short, a busy hashing thread then gives way as soon as the loop has a
    request to answer, instead of taking turns with it.
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: plain priority
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + WORKER_NICENESS)


class PasswordPool:
    """bcrypt off the event loop: `workers` threads, at most `queue` checks waiting, the rest refused at once.

    bcrypt releases the GIL while it hashes, so the loop keeps answering (/healthz, other routes) while
    the workers are busy; a login flood queues up to the bound and then gets PasswordPoolBusyError (503)
    instead of piling up unbounded work. The slot is held until the thread finishes, even when the
    request was cancelled meanwhile, so the bound counts real work. The threads run at a lower
    priority than the loop's (see _yield_to_the_loop).
    """

    def __init__(self, workers: int, queue: int, rounds: int) -> None:
        self.workers = workers
        self.rounds = rounds
        self._capacity = workers + queue
        self._held = 0  # slots taken (running or queued); released from the worker thread, hence the lock
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt",
                                            initializer=_yield_to_the_loop)
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()
        weakref.finalize(self, self._executor.shutdown, wait=False, cancel_futures=True)

    def full(self) -> bool:
        """Would a check now be refused? (read by the login gate before it parses anything)"""
        return self._held >= self._capacity

    def _release(self, _: object = None) -> None:
        with self._lock:
            self._held -= 1

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._held >= self._capacity:
                raise PasswordPoolBusyError(retry_after=1)
            self._held += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password, self.rounds)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with no hash (unknown user) check against a dummy one and fail, taking the
        same time, so response times do not tell which usernames exist."""
        if hashed is None:
            await self._run(self._check_dummy, password)
            return False
        return await self._run(verify_password, password, hashed)

    def _check_dummy(self, password: str) -> bool:
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = hash_password("kubetune-no-such-user", self.rounds)
        return verify_password(password, self._dummy)


def hash_api_key(key: str) -> str:
    # API keys are long random strings: a fast hash is enough and keeps lookups cheap.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    issued_at: int
    expires_at: int
    user_id: int  # a user deleted and re-created gets a new id, so the old tokens stop matching
    generation: int  # the user's token generation when issued; a password change moves it on


def issue_token(subject: str, secret: str, lifetime_seconds: int, *, user_id: int, generation: int,
                now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    payload = {"sub": subject, "iat": issued, "exp": issued + lifetime_seconds, "iss": KEY_ID,
               "uid": user_id, "gen": generation}
    return jwt.encode(payload, secret, algorithm=ALGORITHM, headers={"kid": KEY_ID})


def is_own_token(token: str) -> bool:
    """True when the token claims to be one of ours (so it is never sent to TokenReview)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    return header.get("kid") == KEY_ID


def verify_token(token: str, secret: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=KEY_ID,
            options={"require": ["exp", "iat", "sub", "uid", "gen"]},
        )
        return TokenClaims(subject=str(claims["sub"]), issued_at=int(claims["iat"]), expires_at=int(claims["exp"]),
                           user_id=int(claims["uid"]), generation=int(claims["gen"]))
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("token expired") from exc
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise InvalidTokenError("invalid token") from exc

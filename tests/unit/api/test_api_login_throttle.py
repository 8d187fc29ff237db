"""Login throttling (per user, per address, Retry-After), the bounded bcrypt pool and unknown users."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from api_env import make_settings, running, seed_cluster

from kubetune.api.auth.throttle import LoginThrottle, LoginThrottledError, SlidingWindow
from kubetune.api.cluster.fake import FakeCluster
from kubetune.api.context import AppContext
from kubetune.api.core import security


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_counts_and_forgets() -> None:
    clock = Clock()
    window = SlidingWindow(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert window.retry_after("k") == 0
        window.add("k")
        clock.now += 10
    # events at 1000, 1010, 1020; now 1030: the first leaves the window at 1060
    assert window.retry_after("k") == pytest.approx(30)
    assert window.retry_after("other") == 0
    clock.now = 1060.5
    assert window.retry_after("k") == 0
    window.refund("k")
    window.refund("k")
    assert len(window) == 0  # nothing left for k: the key is gone, not kept empty


def test_sliding_window_is_bounded_in_keys() -> None:
    window = SlidingWindow(limit=1, window=60, max_keys=100, clock=Clock())
    for i in range(1000):
        window.add(f"user-{i}")
    assert len(window) == 100
    assert window.retry_after("user-999") > 0 and window.retry_after("user-0") == 0


def test_throttle_per_user_and_per_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=2, per_address=3, window=60, clock=clock)
    throttle.admit("alice", "10.0.0.1")
    throttle.admit("alice", "10.0.0.2")
    with pytest.raises(LoginThrottledError) as caught:
        throttle.admit("alice", "10.0.0.3")  # a third address does not help: the user's bucket is full
    assert caught.value.retry_after == 60
    throttle.admit("bob", "10.0.0.1")
    throttle.admit("carol", "10.0.0.1")
    with pytest.raises(LoginThrottledError):
        throttle.admit("dave", "10.0.0.1")  # 10.0.0.1 tried alice, bob and carol: its bucket is full
    clock.now += 61
    throttle.admit("alice", "10.0.0.9")
    throttle.admit("alice", "10.0.0.1")
    throttle.succeeded("alice", "10.0.0.1")  # a success clears the user's failures and refunds the address
    throttle.admit("alice", "10.0.0.9")
    throttle.admit("alice", "10.0.0.9")
    for name in ("x", "y", "z"):  # the address got its attempt back: three more fit
        throttle.admit(name, "10.0.0.1")
    with pytest.raises(LoginThrottledError):
        throttle.admit("w", "10.0.0.1")


async def test_pool_refuses_beyond_its_queue_and_holds_the_slot_until_the_thread_ends() -> None:
    pool = security.PasswordPool(workers=1, queue=1, rounds=4)
    gate = threading.Event()
    first = asyncio.create_task(pool._run(gate.wait))
    second = asyncio.create_task(pool._run(gate.wait))
    await asyncio.sleep(0)  # let both tasks take their slots
    with pytest.raises(security.PasswordPoolBusyError) as caught:
        await pool.verify("x", security.hash_password("x", 4))
    assert caught.value.retry_after >= 1
    first.cancel()  # a client gone away does not free the worker: the thread still runs
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(security.PasswordPoolBusyError):
        await pool.verify("x", None)
    gate.set()
    assert await second
    assert await pool.verify("x", security.hash_password("x", 4))


async def test_pool_runs_bcrypt_in_its_threads_and_checks_unknown_users_against_a_dummy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str, str]] = []

    def spy(password: str, hashed: str) -> bool:
        seen.append((threading.current_thread().name, password, hashed))
        return True

    monkeypatch.setattr(security, "verify_password", spy)
    pool = security.PasswordPool(workers=2, queue=0, rounds=5)
    assert await pool.verify("pw", "$2b$05$realhash") is True
    assert await pool.verify("pw", None) is False  # even when the dummy "matches"
    assert all(name.startswith("bcrypt") for name, _, _ in seen)
    dummy = seen[1][2]
    assert dummy.startswith("$2b$05$")  # same cost as real hashes, so unknown users take as long


async def test_pool_threads_give_way_to_the_loop() -> None:
    import os
    import sys

    pool = security.PasswordPool(workers=1, queue=0, rounds=4)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = await pool._run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    if sys.platform == "linux":  # per-thread priorities are Linux's; elsewhere both run at one priority
        assert theirs == min(mine + security.WORKER_NICENESS, 19)


# -- through the login route -------------------------------------------------------------------

@pytest_asyncio.fixture(loop_scope="function")
async def small(tmp_path: Path) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
    settings = make_settings(tmp_path, login_failures_per_user=3, login_failures_per_address=7,
                             password_hash_workers=1, password_hash_queue=0)
    fake = FakeCluster()
    await seed_cluster(fake, settings)
    async with running(settings, fake) as (app, client):
        ctx: AppContext = app.state.ctx
        await ctx.users.put_user("alice", "alice-password")
        yield ctx, client


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_failed_logins_end_in_429_with_retry_after_for_known_and_unknown_users(
    small: tuple[AppContext, httpx.AsyncClient],
) -> None:
    _, client = small
    for username in ("alice", "nobody"):
        for _ in range(3):
            resp = await _login(client, username, "wrong-password")
            assert resp.status_code == 401 and resp.json() == {"detail": "Incorrect username or password"}
        refused = await _login(client, username, "wrong-password")
        assert refused.status_code == 429
        assert set(refused.json()) == {"detail"} and "try again" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 300
    # alice's bucket is full: even her right password waits, so guessing cannot be finished this way
    assert (await _login(client, "alice", "alice-password")).status_code == 429


async def test_one_address_spraying_usernames_is_throttled(small: tuple[AppContext, httpx.AsyncClient]) -> None:
    _, client = small
    codes = [(await _login(client, f"user{i}", "guess")).status_code for i in range(8)]
    assert codes == [401] * 7 + [429]


async def test_a_success_clears_the_users_failures(small: tuple[AppContext, httpx.AsyncClient]) -> None:
    _, client = small
    for _ in range(2):
        assert (await _login(client, "alice", "typo")).status_code == 401
    assert (await _login(client, "alice", "alice-password")).status_code == 200
    for _ in range(2):  # two more typos would have made four: still allowed after the success
        assert (await _login(client, "alice", "typo")).status_code == 401
    assert (await _login(client, "alice", "alice-password")).status_code == 200


async def test_unknown_users_are_checked_against_a_dummy_hash(
    small: tuple[AppContext, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, client = small
    checked: list[Any] = []
    real = ctx.users.passwords.verify

    async def spy(password: str, hashed: str | None) -> bool:
        checked.append(hashed)
        return await real(password, hashed)

    monkeypatch.setattr(ctx.users.passwords, "verify", spy)
    assert (await _login(client, "nobody", "pw")).status_code == 401
    assert (await _login(client, "alice", "pw")).status_code == 401
    assert checked[0] is None and checked[1] == ctx.users.get("alice").password_hash  # type: ignore[union-attr]


async def test_a_full_pool_is_503_and_health_still_answers(small: tuple[AppContext, httpx.AsyncClient]) -> None:
    ctx, client = small
    gate = threading.Event()
    busy = asyncio.create_task(ctx.users.passwords._run(gate.wait))  # the only worker, held
    await asyncio.sleep(0)
    try:
        refused = await _login(client, "alice", "alice-password")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert set(refused.json()) == {"detail"}
        assert (await client.get("/healthz")).status_code == 200  # the loop is free while bcrypt is busy
    finally:
        gate.set()
        await busy
    assert (await _login(client, "alice", "alice-password")).status_code == 200


async def test_the_gate_refuses_before_the_body_is_parsed(small: tuple[AppContext, httpx.AsyncClient]) -> None:
    ctx, client = small
    garbage = {"content": b"\xff not a form", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    assert (await client.post("/api/v1/auth/token", **garbage)).status_code == 422  # the route parses it
    for i in range(7):
        await _login(client, f"user{i}", "guess")
    refused = await client.post("/api/v1/auth/token", **garbage)
    assert refused.status_code == 429 and set(refused.json()) == {"detail"}  # answered from the head alone
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await client.get("/healthz")).status_code == 200
    # the gate only reads: refusals do not charge the bucket further (seven events, still the first to expire)
    assert len(ctx.users.logins.throttle.addresses._events["127.0.0.1"]) == 7


async def test_the_gate_answers_503_while_the_pool_is_full(small: tuple[AppContext, httpx.AsyncClient]) -> None:
    ctx, client = small
    gate = threading.Event()
    busy = asyncio.create_task(ctx.users.passwords._run(gate.wait))
    await asyncio.sleep(0)
    try:
        assert ctx.users.passwords.full()
        refused = await client.post("/api/v1/auth/token", content=b"\xff",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    finally:
        gate.set()
        await busy
    assert not ctx.users.passwords.full()

"""Lease election: create, renew, refuse a live holder, take over an expired one, lose on conflict."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from kubetune.operator.kube import ApiError
from kubetune.operator.leader import LeaseElector, expired


class LeaseStore:
    """One Lease with resourceVersion checks, like the API server."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 0

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.lease)

    def create(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        if self.lease is not None:
            return None
        self.rv += 1
        self.lease = {**copy.deepcopy(manifest), "metadata": {**manifest["metadata"], "resourceVersion": str(self.rv)}}
        return self.lease

    def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        assert self.lease is not None
        if manifest["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict")
        self.rv += 1
        self.lease = copy.deepcopy(manifest)
        self.lease["metadata"]["resourceVersion"] = str(self.rv)
        return self.lease


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def elector(store: LeaseStore, clock: Clock, identity: str) -> LeaseElector:
    return LeaseElector(store, "ns", "lease", identity, duration=15, renew=5, clock=clock)  # type: ignore[arg-type]


def test_first_candidate_creates_and_renews_the_lease() -> None:
    store, clock = LeaseStore(), Clock()
    a = elector(store, clock, "a")
    assert a.try_acquire()
    clock.now += timedelta(seconds=5)
    assert a.try_acquire()
    assert store.lease is not None and store.lease["spec"]["holderIdentity"] == "a"
    assert store.lease["spec"]["leaseTransitions"] == 0


def test_second_candidate_waits_until_the_holder_stops_renewing() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert a.try_acquire()
    clock.now += timedelta(seconds=10)
    assert not b.try_acquire()
    clock.now += timedelta(seconds=10)  # 20 s since a's renewal > 15 s
    assert b.try_acquire()
    assert store.lease is not None and store.lease["spec"]["holderIdentity"] == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire()  # a is no longer the holder and b's claim is fresh


def test_a_concurrent_writer_makes_the_attempt_fail() -> None:
    store, clock = LeaseStore(), Clock()
    a = elector(store, clock, "a")
    a.try_acquire()
    original_get = store.get

    def stale_get(*args: Any) -> dict[str, Any] | None:
        lease = original_get(*args)
        store.rv += 1  # someone wrote in between
        assert store.lease is not None
        store.lease["metadata"]["resourceVersion"] = str(store.rv)
        return lease

    store.get = stale_get  # type: ignore[method-assign,assignment]
    assert not a.try_acquire()


def test_expiry_uses_renew_time_and_duration() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    spec = {"renewTime": "2026-01-01T00:00:00.000000Z", "leaseDurationSeconds": 15}
    assert not expired(spec, now + timedelta(seconds=14))
    assert expired(spec, now + timedelta(seconds=16))
    assert expired({}, now)

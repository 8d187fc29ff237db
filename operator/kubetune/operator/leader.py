"""Leader election with a coordination.k8s.io Lease: two replicas are safe, only the holder reconciles.

kopf's peering only pauses lower-priority operators and lets same-priority
peers run side by side, so it cannot make two replicas safe; a Lease can.
A replica reconciles only while it holds the Lease; when it cannot renew
before the Lease expires it stops (and its pod restarts as a candidate).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubetune.operator.kube import ApiError, Kube

log = logging.getLogger(__name__)
LEASE_API = "coordination.k8s.io/v1"


def _micro(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expired(spec: dict[str, Any], now: datetime) -> bool:
    """A Lease nobody renewed within its duration is free to take."""
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds") or 0
    return renewed is None or renewed + timedelta(seconds=duration) < now


class LeaseElector:
    """Acquire and renew one Lease; optimistic concurrency (resourceVersion) settles races."""

    def __init__(self, kube: Kube, namespace: str, name: str, identity: str, duration: float, renew: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.duration, self.renew_every, self.clock = duration, renew, clock

    def _spec(self, now: datetime, transitions: int, acquired: str | None = None) -> dict[str, Any]:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.duration),
                "acquireTime": acquired or _micro(now), "renewTime": _micro(now), "leaseTransitions": transitions}

    def try_acquire(self) -> bool:
        """One attempt to become or stay the holder."""
        now = self.clock()
        lease = self.kube.get(LEASE_API, "Lease", self.namespace, self.name)
        if lease is None:
            body = {"apiVersion": LEASE_API, "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec(now, 0)}
            return self.kube.create(body) is not None
        spec = lease.get("spec") or {}
        mine = spec.get("holderIdentity") == self.identity
        if not mine and not expired(spec, now):
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        lease["spec"] = self._spec(now, transitions, spec.get("acquireTime") if mine else None)
        try:
            self.kube.replace(lease)  # carries resourceVersion: a concurrent writer makes this a 409
        except ApiError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def wait_for_leadership(self, stop: threading.Event) -> bool:
        """Block until this replica leads (True) or stop is set (False)."""
        while not stop.is_set():
            try:
                if self.try_acquire():
                    log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
                    return True
            except ApiError as exc:
                log.warning("lease attempt failed: %s", exc)
            stop.wait(self.renew_every)
        return False

    def keep(self, stop: threading.Event, lost: Callable[[], None]) -> threading.Thread:
        """Renew in the background; call `lost` once renewals failed for a whole lease duration."""
        def loop() -> None:
            last_ok = self.clock()
            while not stop.wait(self.renew_every):
                try:
                    if self.try_acquire():
                        last_ok = self.clock()
                        continue
                except ApiError as exc:
                    log.warning("lease renewal failed: %s", exc)
                if (self.clock() - last_ok).total_seconds() >= self.duration:
                    log.error("lost lease %s/%s; stopping", self.namespace, self.name)
                    lost()
                    return

        thread = threading.Thread(target=loop, name="lease-renewer", daemon=True)
        thread.start()
        return thread

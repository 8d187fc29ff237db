"""What every handler shares: settings, the API client, metrics, per-object locks and the status writer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kubetune.crd.kinds import Kind
from kubetune.operator import conditions as cnd
from kubetune.operator.events import emit
from kubetune.operator.kube import Kube
from kubetune.operator.metrics import Metrics
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

# How long Job and Pod events leave an object alone after a write staged in kopf's patch (see staged()).
STAGED_SECONDS = 10.0


class KeyedLocks:
    """One lock per object: a Job event and a Pod event of one Training never decide at the same time."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Any, threading.Lock] = {}

    @contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def forget(self, key: Any) -> None:
        with self._guard:
            self._locks.pop(key, None)


def _rv(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _unchanged(base: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    for key, value in fields.items():
        if key == "conditions":
            if not cnd.same(base.get(key), value):
                return False
        elif base.get(key) != value:
            return False
    return True


@dataclass
class StatusWriter:
    """Merge-patches operator-owned status fields, skipping no-op patches, with an Event per transition.

    The watch (index) may lag behind our own last patch; comparing against the
    fresher of the two (by resourceVersion) avoids patching and announcing the
    same transition twice.
    """

    kube: Kube
    metrics: Metrics
    background: Executor | None = None  # where Events are posted from (None: before returning)
    _written: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _staged: dict[str, tuple[int, float]] = field(default_factory=dict)  # uid -> (rv it was staged at, when)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def staged(self, uid: str, observed_rv: Any) -> bool:
        """A write staged in kopf's patch that the watch has not shown yet.

        Until it lands, another write of this object could be overtaken by it (kopf sends its patch
        after the handler returns), so Job and Pod events wait for the object's next event instead.
        Bounded in time: a patch kopf could not send must not silence the object for good.
        """
        with self._lock:
            entry = self._staged.get(uid)
            if entry is None:
                return False
            if entry[0] < _rv(observed_rv) or time.monotonic() - entry[1] > STAGED_SECONDS:
                del self._staged[uid]
                return False
            return True

    def base(self, uid: str, observed: Mapping[str, Any], observed_rv: Any) -> dict[str, Any]:
        """The fresher of the watched status and our own last write."""
        with self._lock:
            cached = self._written.get(uid)
            if cached is not None and cached[0] < _rv(observed_rv):
                del self._written[uid]  # the watch caught up: the cache entry is no longer needed
                cached = None
        return dict(cached[1]) if cached is not None else dict(observed)

    def needed(self, uid: str, observed: Mapping[str, Any], observed_rv: Any, fields: Mapping[str, Any]) -> bool:
        """Whether write() would send a patch (lock-free: for cheap filtering in the event loop)."""
        base = self.base(uid, observed, observed_rv)
        if "conditions" in fields:
            fields = {**fields, "conditions": cnd.merge(base.get("conditions"), fields["conditions"])}
        return not _unchanged(base, fields)

    def write(self, kind: Kind, owner: Owner, observed: Mapping[str, Any], observed_rv: Any,
              fields: Mapping[str, Any], event: tuple[str, str, bool] | None = None,
              into: MutableMapping[str, Any] | None = None) -> bool:
        """Patch `fields` into status unless they are already there; True when a patch was sent (or staged).

        With `into` (kopf's patch of the object being handled) nothing is sent here: kopf sends the
        fields with its own record in one PATCH of /status when the handler returns.
        """
        base = self.base(owner.uid, observed, observed_rv)
        old_phase = base.get("phase")
        if "conditions" in fields:
            fields = {**fields, "conditions": cnd.merge(base.get("conditions"), fields["conditions"])}
        if _unchanged(base, fields):
            return False
        if into is None:
            body = self.kube.patch(kind.api_version, kind.kind, owner.namespace, owner.name,
                                   {"status": dict(fields)}, subresource="status")
            written_rv = _rv(body.get("metadata", {}).get("resourceVersion"))
        else:
            into.setdefault("status", {}).update(fields)
            # Any newer event of the object carries kopf's patch (or a later change): until then
            # the cache stands in for it, so Job and Pod events do not write the same state again.
            written_rv = _rv(observed_rv)
        merged = {**base, **fields}
        if "conditions" in merged:
            merged["conditions"] = cnd.pack(merged["conditions"])
        with self._lock:
            self._written[owner.uid] = (written_rv, merged)
            if into is not None:
                self._staged[owner.uid] = (written_rv, time.monotonic())
        new_phase = fields.get("phase")
        if new_phase and new_phase != old_phase:
            self.metrics.transitions.labels(kind.kind, new_phase).inc()
            self.metrics.phases.set(kind.kind, owner.namespace or "", owner.name, new_phase)
            if event is not None:
                emit(self.kube, owner, event[0], event[1], event[2], background=self.background)
        return True

    def forget(self, uid: str) -> None:
        with self._lock:
            self._written.pop(uid, None)
            self._staged.pop(uid, None)


@dataclass
class Runtime:
    settings: Settings
    kube: Kube
    metrics: Metrics = field(default_factory=Metrics)
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    status: StatusWriter = field(init=False)
    # Requests a handler sends side by side (a Training's independent children, Events), so that a
    # handler thread waits for one round trip where it would wait for several.
    fanout: ThreadPoolExecutor = field(init=False)
    # (namespace, Job name) -> (Job uid, message): pods a ResourceQuota refused (handlers/project_quota.py).
    quota_refusals: dict[tuple[str, str], tuple[str | None, str]] = field(default_factory=dict)
    # (namespace, Job name) -> where a queued Job waits in its Kueue queue (handlers/queue_status.py).
    queue_waits: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fanout = ThreadPoolExecutor(max_workers=4 * self.settings.workers, thread_name_prefix="kubetune-fanout")
        self.status = StatusWriter(self.kube, self.metrics, background=self.fanout)

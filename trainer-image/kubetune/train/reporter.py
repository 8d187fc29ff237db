"""The status reporter: coalesced, throttled merge patches from a background thread.

The training thread only calls ``update`` / ``event`` (a dict merge under a
lock: microseconds). A daemon thread sends at most one patch per
``interval`` seconds, always the newest values, retrying with capped
exponential backoff on conflicts, server errors and outages; nothing it does
can block training. ``close`` flushes what is left, within a deadline.
Only the trainer's status fields are ever written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from kubetune.crd.base import API_VERSION
from kubetune.crd.training import TRAINER_STATUS_FIELDS, TrainingStatus
from kubetune.train.kubeapi import ApiError

log = logging.getLogger(__name__)
PLURAL = "trainings"
MAX_QUEUED_EVENTS = 100
# Reasons a run repeats (once per epoch, evaluation, checkpoint): the first few are posted, then only the
# 8th, 16th, 32nd, ..., so a long run leaves a handful of Events, not hundreds; status.history has every point.
ROUTINE_REASONS = frozenset({"EpochDone", "EvalDone", "CheckpointSaved"})
ROUTINE_POSTED_IN_FULL = 5


class StatusApi(Protocol):
    """What the reporter needs from the API server (``KubeApi`` provides it)."""

    def patch_status(
        self, group_version: str, namespace: str, plural: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]: ...


def validate_status(fields: dict[str, Any]) -> dict[str, Any]:
    """Check a trainer patch against the Training status model; returns it in wire (camelCase) form."""
    unknown = set(fields) - TRAINER_STATUS_FIELDS
    if unknown:
        raise ValueError(f"the trainer may not write status fields {sorted(unknown)}")
    # exclude_unset: a merge patch must carry only what the trainer said, never model defaults.
    return TrainingStatus.model_validate(fields).model_dump(by_alias=True, exclude_unset=True, mode="json")


class StatusReporter:
    """Sends the newest trainer status to one Training, never on the caller's thread."""

    def __init__(
        self,
        api: StatusApi,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        interval: float = 5.0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        extra_fields: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.api, self.namespace, self.name, self.uid = api, namespace, name, uid
        self.interval, self.backoff, self.max_backoff = interval, backoff, max_backoff
        self.extra_fields = extra_fields  # e.g. GPU readings, gathered on the reporter thread
        self._pending: dict[str, Any] = {}
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closing = False
        self._flush_wanted = False
        self._last_sent = -float("inf")
        self._failures = 0
        self._last_attempt = -float("inf")
        self._inflight = False
        self.patches_sent = 0
        self._events_disabled = False
        self._reason_counts: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="kubetune-status", daemon=True)
        self._thread.start()

    # Called from the training thread -------------------------------------------------
    def update(self, fields: dict[str, Any], *, urgent: bool = False) -> None:
        """Queue status fields (wire names); newer values replace older unsent ones."""
        unknown = set(fields) - TRAINER_STATUS_FIELDS
        if unknown:
            raise ValueError(f"the trainer may not write status fields {sorted(unknown)}")
        with self._cond:
            self._pending.update(fields)
            self._flush_wanted |= urgent
            self._cond.notify()

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        """Queue a Kubernetes Event about the Training (best effort; routine reasons thinned out)."""
        seen = self._reason_counts[reason] = self._reason_counts.get(reason, 0) + 1
        if reason in ROUTINE_REASONS and seen > ROUTINE_POSTED_IN_FULL:
            if seen & (seen - 1):  # not a power of two
                return
            message = f"{message} ({reason} #{seen}; the ones in between are in status.history)"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        involved = {"apiVersion": API_VERSION, "kind": "Training", "name": self.name, "namespace": self.namespace}
        if self.uid:
            involved["uid"] = self.uid
        with self._cond:
            self._events.append(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"generateName": f"{self.name}.", "namespace": self.namespace},
                    "involvedObject": involved,
                    "reason": reason,
                    "message": message[:1024],
                    "type": "Warning" if warning else "Normal",
                    "source": {"component": "kubetune-train"},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                }
            )
            del self._events[:-MAX_QUEUED_EVENTS]  # during a long outage keep the newest events only
            self._cond.notify()

    def close(self, timeout: float = 30.0) -> bool:
        """Send what is pending (within ``timeout``) and stop; True when everything went out."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        with self._cond:
            return not self._pending and not self._events

    def flush(self, timeout: float = 30.0) -> bool:
        """Ask for an immediate send and wait until nothing is pending (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flush_wanted = True
            self._cond.notify()
            while self._pending or self._events or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # The reporter thread ------------------------------------------------------------
    def _due(self) -> float:
        if self._failures:
            delay: float = min(self.backoff * 2.0 ** (self._failures - 1), self.max_backoff)
            return self._last_attempt + delay
        if self._flush_wanted or self._closing:
            return 0.0
        return self._last_sent + self.interval

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    has_work = bool(self._pending or self._events)
                    if not has_work and self._closing:
                        self._cond.notify_all()
                        return
                    wait = self._due() - time.monotonic() if has_work else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                body, self._pending = self._pending, {}
                events, self._events = self._events, []
                self._flush_wanted = False
                self._inflight = True
            self._send(body, events)

    def _send(self, body: dict[str, Any], events: list[dict[str, Any]]) -> None:
        self._last_attempt = time.monotonic()
        patch_error: ApiError | None = None
        if body:
            fields = dict(body)
            if self.extra_fields is not None:
                try:
                    fields.update(self.extra_fields())
                except Exception:  # a probe (NVML) must never stop reporting
                    log.debug("extra status fields failed", exc_info=True)
            try:
                self.api.patch_status(
                    API_VERSION, self.namespace, PLURAL, self.name, {"status": validate_status(fields)}
                )
                self.patches_sent += 1
                self._last_sent = time.monotonic()
            except ApiError as exc:
                patch_error = exc
            except ValueError:  # a status the model refuses is a bug here; never kill the thread for it
                log.exception("invalid status patch dropped")
        event_error: ApiError | None = None
        sent = 0
        if patch_error is None and not self._events_disabled:
            for event in events:
                try:
                    self.api.create_event(self.namespace, event)
                    sent += 1
                except ApiError as exc:
                    if not exc.retryable:  # e.g. 403: the Role does not allow Events; stop trying
                        log.warning("events disabled: %s", exc)
                        self._events_disabled = True
                    else:
                        event_error = exc
                    break
        with self._cond:
            self._inflight = False
            error = patch_error or event_error
            if error is not None and error.retryable:
                self._failures += 1
                log.warning("status report failed (%s), attempt %d", error, self._failures)
                if patch_error is not None:
                    # Keep the unsent values under anything newer that arrived meanwhile.
                    self._pending = {**body, **self._pending}
                if not self._events_disabled:
                    self._events = events[sent:] + self._events
            else:
                if error is not None:
                    log.error("status report refused and dropped: %s", error)
                self._failures = 0
            self._cond.notify_all()

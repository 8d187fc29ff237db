"""Admission control: ``max_concurrent`` requests run, ``queue_size`` wait in FIFO order, the rest are refused.

Refusal is immediate (the caller turns it into a 429), so a burst never piles
up unbounded work behind a GPU that can only hold a few requests.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueStatus:
    """Seed 002's queue_status block."""

    active_requests: int
    queued_requests: int
    max_concurrent: int
    estimated_wait_time: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "active_requests": self.active_requests,
            "queued_requests": self.queued_requests,
            "max_concurrent": self.max_concurrent,
            "estimated_wait_time": round(self.estimated_wait_time, 3),
        }


class AdmissionRejectedError(Exception):
    """Every slot and every queue place is taken."""

    def __init__(self, status: QueueStatus) -> None:
        super().__init__("too many concurrent requests")
        self.status = status


class Admission:
    """A FIFO semaphore with a bounded wait queue and an estimate of the wait."""

    def __init__(self, max_concurrent: int, queue_size: int) -> None:
        self.max_concurrent = max_concurrent
        self.queue_size = queue_size
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.rejected = 0
        # Exponentially weighted mean of how long an admitted request holds its slot.
        self._mean_service_s = 0.0
        self._watchers: list[tuple[Callable[[Admission], bool], asyncio.Future[None]]] = []

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def status(self) -> QueueStatus:
        # A newcomer waits for the queue ahead of it to drain, plus one running wave when all slots are busy.
        busy = 1.0 if self.active >= self.max_concurrent else 0.0
        waves = self.queued / self.max_concurrent + busy
        return QueueStatus(self.active, self.queued, self.max_concurrent, waves * self._mean_service_s)

    def observe_service_time(self, seconds: float) -> None:
        self._mean_service_s = seconds if self._mean_service_s == 0 else 0.8 * self._mean_service_s + 0.2 * seconds

    async def until(self, condition: Callable[[Admission], bool]) -> None:
        """Wait until ``condition(self)`` holds (checked after every change): for tests and supervisors."""
        if condition(self):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.append((condition, future))
        await future

    def _changed(self) -> None:
        for watcher in list(self._watchers):
            condition, future = watcher
            if future.done() or condition(self):
                self._watchers.remove(watcher)
                if not future.done():
                    future.set_result(None)

    async def _acquire(self) -> None:
        if self.active < self.max_concurrent and not self._waiters:
            self.active += 1
            self._changed()
            return
        if len(self._waiters) >= self.queue_size:
            self.rejected += 1
            self._changed()
            raise AdmissionRejectedError(self.status())
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._changed()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we gave up: pass it on
            else:
                self._waiters.remove(waiter)
                self._changed()
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # hand the slot over; `active` stays the same
                self._changed()
                return
        self.active -= 1
        self._changed()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one running slot for the body; raises AdmissionRejectedError when full."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

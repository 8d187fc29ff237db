"""Login throttling: failed attempts per username and per client address in a sliding window
(and bearer tokens TokenReview refused, per client address).

The counters live in this replica's memory on purpose. Kubernetes holds the platform's state, not
rate counters: writing every failed login into an object would turn a login flood into an API
server write flood. The cost is that each replica counts on its own (N replicas allow N times the
attempts) and a restart forgets; docs/security.md says so.

An attempt is charged before the password is checked and refunded when it succeeds, so a burst of
concurrent guesses cannot all slip in before the first failure is recorded.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from kubetune.api.core.config import Settings

MAX_KEY_CHARS = 256  # usernames come from a form field: never keep more of one than this
MAX_KEYS = 20_000  # keys tracked per window; the least recently seen go first


class LoginThrottledError(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class SlidingWindow:
    """At most `limit` events per key in the last `window` seconds; bounded in the number of keys."""

    def __init__(self, limit: int, window: float, *, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: str) -> float:
        """Seconds until the key may act again; 0 when it may now."""
        now = self.clock()
        events = self._recent(key, now)
        if events is None or len(events) < self.limit:
            return 0.0
        return max(events[-self.limit] + self.window - now, 0.0)

    def add(self, key: str) -> None:
        now = self.clock()
        events = self._recent(key, now)
        if events is None:
            events = self._events[key] = deque()
        events.append(now)
        self._events.move_to_end(key)
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)

    def refund(self, key: str) -> None:
        """Take back the latest event of the key (an attempt that turned out to be a success)."""
        events = self._events.get(key)
        if events:
            events.pop()
            if not events:
                del self._events[key]

    def clear(self, key: str) -> None:
        self._events.pop(key, None)

    def __len__(self) -> int:
        return len(self._events)


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait)) if wait > 0 else 0


class LoginThrottle:
    """Failed logins per username and per client address; either one over its limit refuses with 429."""

    def __init__(self, per_user: int, per_address: int, window: float, reviews_per_address: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.users = SlidingWindow(per_user, window, clock=clock)
        self.addresses = SlidingWindow(per_address, window, clock=clock)
        # Bearer tokens the API server's TokenReview refused: each cost a call in the facade's own
        # API budget, so an address that keeps sending them is refused without asking.
        self.reviews = SlidingWindow(reviews_per_address, window, clock=clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(settings.login_failures_per_user, settings.login_failures_per_address,
                   settings.login_window_seconds, settings.token_review_failures_per_address)

    def address_wait(self, address: str) -> int:
        """Whole seconds until the address may try again; 0 when it may now."""
        return _seconds(self.addresses.retry_after(address))

    def review_wait(self, address: str) -> int:
        """Whole seconds until the address may have a bearer token reviewed again; 0 when it may now."""
        return _seconds(self.reviews.retry_after(address))

    def admit(self, username: str, address: str) -> None:
        """Charge one attempt to both keys, or raise LoginThrottledError with the wait (unknown users alike)."""
        user = username[:MAX_KEY_CHARS]
        wait = max(self.users.retry_after(user), self.addresses.retry_after(address))
        if wait > 0:
            raise LoginThrottledError(max(1, math.ceil(wait)))
        self.users.add(user)
        self.addresses.add(address)

    def succeeded(self, username: str, address: str) -> None:
        # The user proved the password: their earlier typos no longer count. The address keeps the
        # others' failures (many people may share it), minus this attempt.
        self.users.clear(username[:MAX_KEY_CHARS])
        self.addresses.refund(address)

"""Stop sequences over streamed text: emit only what cannot be the start of a stop string."""

from __future__ import annotations

from collections.abc import Sequence


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found."""
    positions = [text.find(stop) for stop in stops if stop]
    found = [position for position in positions if position >= 0]
    if not found:
        return text, False
    return text[: min(found)], True


class StopScanner:
    """Feed text deltas; get back the part that is safe to send and whether a stop string appeared."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self._text = ""
        self._sent = 0
        self.stopped = False
        # A stop string could straddle two deltas: hold back its length minus one.
        self._hold = max((len(stop) for stop in self.stops), default=1) - 1

    def feed(self, delta: str) -> str:
        if self.stopped:
            return ""
        self._text += delta
        text, self.stopped = cut_at_stop(self._text, self.stops)
        safe = len(text) if self.stopped else max(self._sent, len(text) - self._hold)
        out = text[self._sent : safe]
        self._sent = safe
        return out

    def flush(self) -> str:
        if self.stopped:
            return ""
        out = self._text[self._sent :]
        self._sent = len(self._text)
        return out

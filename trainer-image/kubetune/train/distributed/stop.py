"""SIGTERM as a request: finish the step in flight, write a checkpoint, exit.

The kubelet (or torchrun's agent, forwarding it) sends SIGTERM and waits the grace period before
SIGKILL. The handler only sets a flag; the loop checks it after every optimizer step, all ranks agree
through the step's own all-reduce, and the checkpoint is a collective every rank joins.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class StopRequest:
    """Installs a SIGTERM handler for its lifetime (a context manager); ``requested`` once signalled."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

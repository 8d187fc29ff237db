"""Give freed memory back to the OS after bursts.

A burst of thousands of events allocates and frees many small objects; glibc
keeps the freed heap, so the process stays at its peak size. Collecting and
trimming now and then brings the resident size back to what is really in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading

log = logging.getLogger(__name__)


def trim() -> None:
    """One collection and one malloc_trim (where glibc provides it)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        log.debug("malloc_trim is not available")


def start_trimmer(interval: float, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(interval):
            trim()

    thread = threading.Thread(target=loop, name="memory-trimmer", daemon=True)
    thread.start()
    return thread

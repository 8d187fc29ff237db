"""Batches in flight at once (an engine that batches on its own, vLLM): a new batch does not wait for a running one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kubetune.serve.batcher import DynamicBatcher

pytestmark = pytest.mark.unit


async def test_a_second_batch_runs_while_the_first_is_still_running() -> None:
    first_entered, release_first = threading.Event(), threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def run(key: Hashable, items: list[Any]) -> list[Any]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if "slow" in items:
            first_entered.set()
            release_first.wait(timeout=30)
        with lock:
            running -= 1
        return items

    pool = ThreadPoolExecutor(max_workers=2)
    batcher = DynamicBatcher(run, pool, max_batch_size=4, max_wait_s=0)
    batcher.use_executor(pool, max_in_flight=2)
    try:
        slow = asyncio.ensure_future(batcher.submit("k", "slow"))
        await asyncio.get_running_loop().run_in_executor(None, first_entered.wait, 30)
        # The first batch is still running: the second is answered anyway.
        assert await asyncio.wait_for(batcher.submit("k", "fast"), timeout=30) == "fast"
        assert not slow.done() and most == 2
        release_first.set()
        assert await slow == "slow"
    finally:
        release_first.set()
        await batcher.stop()
        pool.shutdown(wait=False, cancel_futures=True)


async def test_one_at_a_time_by_default() -> None:
    pool = ThreadPoolExecutor(max_workers=2)
    batcher = DynamicBatcher(lambda key, items: items, pool, max_batch_size=4, max_wait_s=0)
    try:
        assert batcher.max_in_flight == 1
        assert await asyncio.gather(batcher.submit("k", 1), batcher.submit("k", 2)) == [1, 2]
    finally:
        await batcher.stop()
        pool.shutdown(wait=False, cancel_futures=True)

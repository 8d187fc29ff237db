"""The dynamic batcher: grouping by key, size bound, skipped cancellations, OOM splitting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kubetune.serve.batcher import DynamicBatcher

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[Hashable, list[Any]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, key: Hashable, items: list[Any]) -> list[Any]:
        self.entered.set()
        self.gate.wait(timeout=30)
        self.batches.append((key, list(items)))
        return [(key, item) for item in items]


@pytest.fixture
def executor() -> Any:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


async def test_concurrent_items_share_a_batch_per_key(executor: ThreadPoolExecutor) -> None:
    run = Recorder()
    run.gate.clear()
    batcher = DynamicBatcher(run, executor, max_batch_size=4, max_wait_s=0)
    # The first item occupies the model thread; the rest pile up behind it.
    first = asyncio.create_task(batcher.submit("a", 0))
    await asyncio.to_thread(run.entered.wait, 30)
    rest = [asyncio.create_task(batcher.submit("a", i)) for i in range(1, 6)]
    rest.append(asyncio.create_task(batcher.submit("b", 99)))
    await asyncio.sleep(0)
    run.gate.set()
    results = await asyncio.gather(first, *rest)
    await batcher.stop()
    assert results[0] == ("a", 0)
    assert results[-1] == ("b", 99)
    sizes = [(key, len(items)) for key, items in run.batches]
    assert sizes == [("a", 1), ("a", 4), ("b", 1), ("a", 1)]  # bounded at 4, keys never mixed, b not starved


async def test_cancelled_items_are_not_run(executor: ThreadPoolExecutor) -> None:
    run = Recorder()
    run.gate.clear()
    batcher = DynamicBatcher(run, executor, max_batch_size=8, max_wait_s=0)
    blocker = asyncio.create_task(batcher.submit("k", "blocker"))
    await asyncio.to_thread(run.entered.wait, 30)
    doomed = asyncio.create_task(batcher.submit("k", "doomed"))
    kept = asyncio.create_task(batcher.submit("k", "kept"))
    await asyncio.sleep(0)
    doomed.cancel()
    run.gate.set()
    assert await kept == ("k", "kept")
    await blocker
    await batcher.stop()
    assert all("doomed" not in items for _, items in run.batches)


async def test_out_of_memory_splits_the_batch(executor: ThreadPoolExecutor) -> None:
    calls: list[int] = []

    def run(key: Hashable, items: list[Any]) -> list[Any]:
        calls.append(len(items))
        if len(items) > 1:
            raise RuntimeError("CUDA out of memory")
        return items

    batcher = DynamicBatcher(
        run, executor, max_batch_size=4, max_wait_s=0.5, is_out_of_memory=lambda e: "out of memory" in str(e)
    )
    results = await asyncio.gather(*(batcher.submit("k", i) for i in range(4)))
    await batcher.stop()
    assert results == [0, 1, 2, 3]
    assert calls[0] == 4 and calls.count(1) == 4


async def test_errors_reach_every_caller_of_the_batch(executor: ThreadPoolExecutor) -> None:
    def run(key: Hashable, items: list[Any]) -> list[Any]:
        raise ValueError("broken model")

    batcher = DynamicBatcher(run, executor, max_batch_size=4, max_wait_s=0.5)
    results = await asyncio.gather(*(batcher.submit("k", i) for i in range(3)), return_exceptions=True)
    await batcher.stop()
    assert all(isinstance(r, ValueError) for r in results)

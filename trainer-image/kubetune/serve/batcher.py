"""Dynamic batching: requests that arrive within a short window share one forward pass.

Work is grouped by a key (the kind of work, the adapter, sampling settings) so
that only compatible items share a batch. A single worker forms batches and
runs them one at a time on the model's executor; while a batch runs, the next
one fills up, so under load batches grow without any extra waiting.

On a CUDA out-of-memory error a batch of several items is split in halves and
retried, so a large batch degrades into smaller ones instead of failing all
of its requests; a single item that still does not fit fails with the error.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

RunBatch = Callable[[Hashable, list[Any]], Sequence[Any]]


@dataclass
class _Pending:
    payload: Any
    future: asyncio.Future[Any]
    arrived: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Collects items per key and runs them in batches of at most ``max_batch_size``."""

    def __init__(
        self,
        run_batch: RunBatch,
        executor: Executor,
        max_batch_size: int,
        max_wait_s: float,
        is_out_of_memory: Callable[[BaseException], bool] = lambda _: False,
        on_batch: Callable[[int], None] = lambda _: None,
    ) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._is_oom = is_out_of_memory
        self._on_batch = on_batch
        self._queues: OrderedDict[Hashable, deque[_Pending]] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        # Batches run one at a time on the model's thread; an engine that batches on its own (vLLM) takes
        # several at once, so that a batch formed while another runs need not wait for it.
        self.max_in_flight = 1
        self._in_flight: set[asyncio.Task[None]] = set()

    def use_executor(self, executor: Executor, max_in_flight: int) -> None:
        """Run up to ``max_in_flight`` batches at once on ``executor`` (which needs that many threads)."""
        self._executor = executor
        self.max_in_flight = max(1, max_in_flight)

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="dynamic-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        for queue in self._queues.values():
            for pending in queue:
                if not pending.future.done():
                    pending.future.cancel()
        self._queues.clear()

    async def submit(self, key: Hashable, payload: Any) -> Any:
        """Queue one item and wait for its result (cancelling the wait drops the item)."""
        self.start()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, deque()).append(_Pending(payload, future))
        self._wakeup.set()
        return await future

    def _live(self, key: Hashable) -> deque[_Pending]:
        queue = self._queues[key]
        while queue and queue[0].future.done():  # requests that timed out or went away
            queue.popleft()
        return queue

    def _oldest_key(self) -> Hashable | None:
        for key in list(self._queues):
            if self._live(key):
                return key
            del self._queues[key]
        return None

    async def _work(self) -> None:
        while True:
            key = self._oldest_key()
            if key is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._fill(key)
            batch = self._take(key)
            if not batch:
                continue
            if self.max_in_flight <= 1:
                await self._run(key, batch)
                continue
            while len(self._in_flight) >= self.max_in_flight:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.get_running_loop().create_task(self._run(key, batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _fill(self, key: Hashable) -> None:
        """Wait until the key's batch is full or its oldest item has waited max_wait_s."""
        deadline = self._queues[key][0].arrived + self.max_wait_s
        while len(self._live(key)) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take(self, key: Hashable) -> list[_Pending]:
        queue = self._live(key)
        batch: list[_Pending] = []
        while queue and len(batch) < self.max_batch_size:
            pending = queue.popleft()
            if not pending.future.done():
                batch.append(pending)
        if not queue:
            self._queues.pop(key, None)
        else:
            self._queues.move_to_end(key)  # fairness: other keys go next
        return batch

    async def _run(self, key: Hashable, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        payloads = [pending.payload for pending in batch]
        try:
            results = await loop.run_in_executor(self._executor, self._run_batch, key, payloads)
        except Exception as error:
            if self._is_oom(error) and len(batch) > 1:
                half = len(batch) // 2
                await self._run(key, batch[:half])
                await self._run(key, batch[half:])
                return
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        self._on_batch(len(batch))
        if len(results) != len(batch):
            mismatch = RuntimeError(f"batch of {len(batch)} items returned {len(results)} results")
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(mismatch)
            return
        for pending, result in zip(batch, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)

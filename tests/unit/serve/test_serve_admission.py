"""Admission control: slots, the bounded FIFO queue and immediate refusal."""

from __future__ import annotations

import asyncio

import pytest

from kubetune.serve.admission import Admission, AdmissionRejectedError

pytestmark = pytest.mark.unit


async def _hold(admission: Admission, release: asyncio.Event, order: list[int], index: int) -> None:
    async with admission.slot():
        order.append(index)
        await release.wait()


async def test_slots_then_queue_then_refusal() -> None:
    admission = Admission(max_concurrent=2, queue_size=1)
    release = asyncio.Event()
    order: list[int] = []
    tasks = [asyncio.create_task(_hold(admission, release, order, i)) for i in range(3)]
    await asyncio.wait_for(admission.until(lambda a: a.active + a.queued == 3), 30)
    assert (admission.active, admission.queued) == (2, 1)

    with pytest.raises(AdmissionRejectedError) as refused:
        async with admission.slot():
            pass
    assert refused.value.status.queued_requests == 1
    assert admission.rejected == 1
    assert refused.value.status.max_concurrent == 2

    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]  # FIFO: the queued request ran last
    assert (admission.active, admission.queued) == (0, 0)


async def test_cancelled_waiter_leaves_the_queue() -> None:
    admission = Admission(max_concurrent=1, queue_size=1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(admission, release, [], 0))
    waiter = asyncio.create_task(_hold(admission, release, [], 1))
    await asyncio.wait_for(admission.until(lambda a: a.queued == 1), 30)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert admission.queued == 0
    release.set()
    await holder
    assert admission.active == 0


def test_estimated_wait_grows_with_the_queue() -> None:
    admission = Admission(max_concurrent=2, queue_size=10)
    admission.observe_service_time(2.0)
    assert admission.status().estimated_wait_time == 0.0
    admission.active = 2
    assert admission.status().estimated_wait_time == pytest.approx(2.0)

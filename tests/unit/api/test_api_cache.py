"""The watch-fed cache: indexes, relist after 410 Gone, correctness across watch restarts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubetune.api.cache import Store
from kubetune.api.cache.informer import Informer
from kubetune.api.cluster import NAMESPACES, TRAININGS, WatchEvent
from kubetune.api.cluster.fake import FakeCluster
from kubetune.api.cluster.resources import Res

pytestmark = pytest.mark.unit


def _training(name: str, ns: str = "p1", task: str | None = None, ident: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"kubetune.io/task": task} if task else {}}
    if ident:
        meta["annotations"] = {"kubetune.io/id": str(ident)}
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Training",
        "metadata": meta,
        "spec": {"trainerRef": "lora", "baseModel": "m", "dataset": {"uri": "s3://b/d"}},
    }


def test_store_indexes_follow_updates_and_deletes() -> None:
    store = Store()
    obj = {
        "metadata": {
            "name": "a",
            "namespace": "p1",
            "uid": "u1",
            "resourceVersion": "5",
            "labels": {"kubetune.io/task": "t"},
            "annotations": {"kubetune.io/id": "7"},
        },
        "status": {"phase": "Running"},
    }
    store.upsert(obj)
    assert store.by_uid("u1") is obj and store.by_id(7) is obj and store.in_task("t") == [obj]
    assert store.in_phase("Running") == [obj] and store.in_project("p1") == [obj]
    newer = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "6"}, "status": {"phase": "Succeeded"}}
    store.upsert(newer)
    assert store.in_phase("Running") == [] and store.in_phase("Succeeded") == [newer]
    store.upsert(obj)  # an older version arriving late never wins
    assert store.get("a", "p1") is newer
    store.remove(newer)
    assert store.by_uid("u1") is None and store.by_id(7) is None and store.in_task("t") == [] and len(store) == 0


async def _informer(fake: FakeCluster) -> tuple[Informer, list[tuple[str, str]], asyncio.Task[None]]:
    seen: list[tuple[str, str]] = []
    changed = asyncio.Event()

    def listener(res: Res, event: WatchEvent) -> None:
        seen.append((event.type, event.object["metadata"]["name"]))
        changed.set()

    informer = Informer(fake, TRAININGS, Store(), listener)
    informer.changed = changed  # type: ignore[attr-defined]
    task = asyncio.create_task(informer.run())
    await informer.synced.wait()
    return informer, seen, task


async def _until(informer: Informer, predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            informer.changed.clear()  # type: ignore[attr-defined]
            await informer.changed.wait()  # type: ignore[attr-defined]


async def test_informer_relists_after_410_and_reports_what_it_missed() -> None:
    fake = FakeCluster()
    await fake.create(NAMESPACES, {"metadata": {"name": "p1"}})
    await fake.create(TRAININGS, _training("keep"), "p1")
    await fake.create(TRAININGS, _training("gone"), "p1")
    informer, seen, task = await _informer(fake)
    try:
        assert {o["metadata"]["name"] for o in informer.store.all()} == {"keep", "gone"}
        # While the watch is down: one deleted, one changed, one added; then history is compacted.
        fake.drop_watches()
        await fake.delete(TRAININGS, "gone", "p1")
        await fake.patch(TRAININGS, "keep", {"status": {"phase": "Running"}}, "p1", "status")
        await fake.create(TRAININGS, _training("new"), "p1")
        fake.compact()
        await _until(informer, lambda: informer.relists >= 2 and len(seen) >= 3)
        assert {o["metadata"]["name"] for o in informer.store.all()} == {"keep", "new"}
        assert informer.store.in_phase("Running")[0]["metadata"]["name"] == "keep"
        assert ("DELETED", "gone") in seen and ("MODIFIED", "new") in seen and ("MODIFIED", "keep") in seen
        # And it keeps watching afterwards.
        await fake.create(TRAININGS, _training("after"), "p1")
        await _until(informer, lambda: informer.store.get("after", "p1") is not None)
    finally:
        task.cancel()


async def test_informer_resumes_without_relist_when_history_is_kept() -> None:
    fake = FakeCluster()
    await fake.create(NAMESPACES, {"metadata": {"name": "p1"}})
    informer, seen, task = await _informer(fake)
    try:
        fake.drop_watches()
        await fake.create(TRAININGS, _training("x"), "p1")
        await _until(informer, lambda: ("ADDED", "x") in seen)
        assert informer.relists == 1
    finally:
        task.cancel()

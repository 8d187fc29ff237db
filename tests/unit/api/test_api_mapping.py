"""Pure mappings: status words, list queries, ids, callbacks, splits, storage keys."""

from __future__ import annotations

import asyncio

import pytest

from kubetune.api.cluster import CONFIG_MAPS, NAMESPACES
from kubetune.api.cluster.fake import FakeCluster
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import callback, phases, query, splits
from kubetune.api.mapping.ids import IdAllocator
from kubetune.api.schemas.sktai import TrainingTaskCallback
from kubetune.api.storage.keys import safe_filename, safe_key
from kubetune.crd.vocab import TrainingPhase

pytestmark = pytest.mark.unit


def test_every_phase_has_a_word_in_every_family() -> None:
    from typing import get_args

    for phase in (*get_args(TrainingPhase), ""):
        words = phases.TRAINING_STATUS[phase]
        assert set(words) == {"sktai", "finetune", "platform", "aitems"}
    assert set(phases.words("finetune")) == {"unknown", "pending", "running", "completed", "failed"}
    assert set(phases.words("platform")) == {"pending", "running", "completed", "failed"}
    assert phases.training_status({"status": {"phase": "Succeeded"}}, "aitems") == "completed"
    assert phases.phases_for("pending", "platform") == {"", "Pending", "Queued"}


def _obj(name: str, created: str, desc: str = "") -> dict[str, object]:
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created}, "spec": {"description": desc}}


GETTERS: dict[str, query.Getter] = {
    "id": lambda o: o["metadata"]["uid"],
    "name": lambda o: o["metadata"]["name"],
    "description": lambda o: o["spec"]["description"],
    "created_at": lambda o: o["metadata"]["creationTimestamp"],
}


def test_query_sort_page_filter_search() -> None:
    objs = [_obj("b", "2026-01-02", "x"), _obj("a", "2026-01-03"), _obj("c", "2026-01-01", "X marks")]
    newest = query.apply(objs, GETTERS, 1, 10, [], {}, None)
    assert [o["metadata"]["name"] for o in newest.items] == ["a", "b", "c"]
    by_name = query.apply(objs, GETTERS, 2, 2, query.parse_sort("name", ["name"]), {}, None)
    assert [o["metadata"]["name"] for o in by_name.items] == ["c"] and by_name.total_pages == 2
    found = query.apply(objs, GETTERS, 1, 10, [], {}, "x")
    assert {o["metadata"]["name"] for o in found.items} == {"b", "c"}
    filtered = query.apply(objs, GETTERS, 1, 10, [], query.parse_filter("name:A|c", ["name"]), None)
    assert {o["metadata"]["name"] for o in filtered.items} == {"a", "c"}
    assert query.parse_sort("-name;created_at,asc", ["name", "created_at"]) == [("name", True), ("created_at", False)]
    for bad in ("nope", "name,up"):
        with pytest.raises(ApiError):
            query.parse_sort(bad, ["name"])
    for bad in ("nope:x", "name", "name:"):
        with pytest.raises(ApiError):
            query.parse_filter(bad, ["name"])


async def test_ids_are_unique_under_concurrency_across_replicas() -> None:
    fake = FakeCluster()
    await fake.create(NAMESPACES, {"metadata": {"name": "sys"}})
    replicas = [IdAllocator(fake, "sys", "ids") for _ in range(3)]
    got = await asyncio.gather(*(r.allocate() for r in replicas for _ in range(10)))
    assert sorted(got) == list(range(1, 31))
    counter = await fake.get(CONFIG_MAPS, "ids", "sys")
    assert counter["data"]["next"] == "31"


def test_callback_history_is_bounded_and_summary_tracks_best() -> None:
    training: dict[str, object] = {"status": {}}
    for step in range(1, 1500):
        patch = callback.status_patch(training, TrainingTaskCallback(step=step, total_steps=2000, loss=3000 / step))
        training = {"status": {**training["status"], **patch["status"]}}  # type: ignore[dict-item]
    status = training["status"]
    assert len(status["history"]) <= callback.MAX_HISTORY  # type: ignore[index,arg-type]
    assert status["history"][-1]["step"] == 1499  # type: ignore[index]
    steps = [p["step"] for p in status["history"]]  # type: ignore[index,union-attr]
    assert steps == sorted(steps)
    assert status["summary"]["initialLoss"] == 3000 and status["summary"]["bestLoss"] == 3000 / 1499  # type: ignore[index]
    assert status["progress"]["percent"] == round(100 * 1499 / 2000, 2)  # type: ignore[index]


def test_splits_are_disjoint_complete_and_reproducible() -> None:
    parts = splits.assign(101, "train_test_val", seed=7)
    assert sorted(i for rows in parts.values() for i in rows) == list(range(101))
    assert [len(parts[n]) for n in ("train", "test", "validation")] == [61, 20, 20]
    assert splits.assign(101, "train_test_val", seed=7) == parts
    assert splits.rows_for(5, "train", []) == [0, 1, 2, 3, 4]
    with pytest.raises(KeyError):
        splits.rows_for(5, "test", [])


@pytest.mark.parametrize(
    "path", ["../x", "a/../../b", "a//b", "./a", "a\\b", "file:///etc/passwd", "", "a\x00b", "a/$(rm)", "x" * 2000]
)
def test_traversal_and_odd_keys_are_400(path: str) -> None:
    with pytest.raises(ApiError) as info:
        safe_key(path)
    assert info.value.status == 400


def test_keys_and_filenames_normalise() -> None:
    assert safe_key("/datasets/a b/c.jsonl") == "datasets/a b/c.jsonl"
    assert safe_filename("..\\..\\evil name.jsonl") == "evil_name.jsonl"
    assert safe_filename("") == "dataset.jsonl"

"""The watch loop: list, watch from the list's resourceVersion, relist on 410 Gone
(reporting objects that vanished meanwhile as DELETED), bookmarks only move the version."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kubetune.localdev.node.podwatch import Watcher

pytestmark = pytest.mark.unit


def pod(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": version}}


class Body:
    def __init__(self, obj: dict[str, Any]) -> None:
        self.data = json.dumps(obj).encode()


class Stream:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        for event in self.events:
            yield (json.dumps(event) + "\n").encode()

    def release_conn(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class FakeApi:
    """Scripted answers: two lists and three watches."""

    def __init__(self) -> None:
        self.lists = [
            {"metadata": {"resourceVersion": "10"}, "items": [pod("a", "5"), pod("b", "6")]},
            {"metadata": {"resourceVersion": "20"}, "items": [pod("b", "6"), pod("c", "19")]},
        ]
        self.watches = [
            [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}],
            [
                {"type": "MODIFIED", "object": pod("c", "21")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "25"}}},
            ],
            [],
        ]
        self.watched_from: list[str] = []
        self.done = threading.Event()

    def __call__(self, **kwargs: Any) -> Any:
        if not kwargs.get("watch"):
            return Body(self.lists.pop(0))
        self.watched_from.append(kwargs["resource_version"])
        if len(self.watches) == 1:
            self.done.set()
        return Stream(self.watches.pop(0) if self.watches else [])


def test_relist_after_410_reports_vanished_objects_and_watches_from_the_new_version() -> None:
    api = FakeApi()
    seen: list[tuple[str, str]] = []
    watcher = Watcher(api, lambda kind, obj: seen.append((kind, obj["metadata"]["name"])), "pods")
    watcher.start()
    assert api.done.wait(10)
    watcher.stop()

    assert seen == [
        ("SYNC", "a"),
        ("SYNC", "b"),
        ("DELETED", "a"),
        ("SYNC", "b"),
        ("SYNC", "c"),
        ("MODIFIED", "c"),
    ]
    assert api.watched_from[:3] == ["10", "20", "25"]

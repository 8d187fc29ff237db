"""Events list and the SSE stream: transitions from the watch, Last-Event-ID replay, keep-alives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_env import Env

from kubetune.api import sse
from kubetune.api.cluster import EVENTS, TRAININGS
from kubetune.api.cluster.base import WatchEvent
from kubetune.api.routes.sktai.events import event_frames

pytestmark = pytest.mark.unit


def _parse(frame: str) -> dict[str, Any]:
    fields = dict(line.split(": ", 1) for line in frame.strip().splitlines())
    return {"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])}


async def _training(env: Env) -> dict[str, Any]:
    spec = {"trainerRef": "lora", "baseModel": "llama2-7b", "dataset": {"uri": "s3://b/d.jsonl"}}
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": "t1"}, "spec": spec}
    ns = env.projects["alice"]["namespace"]
    change = await env.changed(TRAININGS, lambda: env.fake.create(TRAININGS, body, ns), lambda c: True)
    return change.object


def _kube_event(training: dict[str, Any], name: str, reason: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "type": "Normal",
        "reason": reason,
        "message": f"{reason} happened",
        "involvedObject": {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Training",
            "name": training["metadata"]["name"],
            "uid": training["metadata"]["uid"],
        },
        "source": {"component": "kubetune-operator"},
    }


async def test_stream_delivers_transitions_and_events(env: Env) -> None:
    training = await _training(env)
    ns = training["metadata"]["namespace"]
    frames = event_frames(env.ctx.cache, training, None)
    first = _parse(await anext(frames))
    assert first["event"] == "status" and first["data"]["reason"] == "Pending"
    await env.fake.patch(TRAININGS, "t1", {"status": {"phase": "Running"}}, ns, "status")
    running = _parse(await asyncio.wait_for(anext(frames), 5))
    assert running["data"]["reason"] == "Running" and int(running["id"]) > int(first["id"])
    await env.fake.create(EVENTS, _kube_event(training, "e1", "Started"), ns)
    started = _parse(await asyncio.wait_for(anext(frames), 5))
    assert started["event"] == "event" and started["data"]["reason"] == "Started"
    await frames.aclose()


async def test_last_event_id_replays_what_was_missed(env: Env) -> None:
    training = await _training(env)
    ns = training["metadata"]["namespace"]
    seen = int(training["metadata"]["resourceVersion"])
    await env.changed(
        EVENTS, lambda: env.fake.create(EVENTS, _kube_event(training, "e1", "Queued"), ns), lambda c: True
    )
    await env.set_status(training["metadata"]["uid"], {"phase": "Running"})
    frames = event_frames(env.ctx.cache, training, seen)
    replayed = [_parse(await anext(frames)) for _ in range(2)]
    assert [f["data"]["reason"] for f in replayed] == ["Queued", "Running"]
    assert all(int(f["id"]) > seen for f in replayed)
    await frames.aclose()


async def test_stream_survives_a_watch_restart_with_410(env: Env) -> None:
    training = await _training(env)
    ns = training["metadata"]["namespace"]
    frames = event_frames(env.ctx.cache, training, None)
    await anext(frames)
    env.fake.compact()
    env.fake.drop_watches()
    await env.fake.patch(TRAININGS, "t1", {"status": {"phase": "Failed", "message": "OOMKilled"}}, ns, "status")
    failed = _parse(await asyncio.wait_for(anext(frames), 5))
    assert failed["data"]["reason"] == "Failed" and failed["data"]["message"] == "OOMKilled"
    await frames.aclose()


async def test_events_list_pages(env: Env) -> None:
    training = await _training(env)
    ns = training["metadata"]["namespace"]
    for i in range(3):
        await env.changed(
            EVENTS, lambda i=i: env.fake.create(EVENTS, _kube_event(training, f"e{i}", f"R{i}"), ns), lambda c: True
        )
    url = f"/api/v1/trainings/{training['metadata']['uid']}/events?page=1&size=2"
    body = (await env.client.get(url, headers=env.auth("alice"))).json()
    assert body["pagination"]["total"] == 3 and len(body["data"]) == 2
    assert (await env.client.get(url, headers=env.auth("bob"))).status_code == 403
    stream = await env.client.get(
        f"/api/v1/trainings/{training['metadata']['uid']}/events/stream", headers=env.auth("bob")
    )
    assert stream.status_code == 403


class _Request:
    def __init__(self) -> None:
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


async def test_keepalive_comments_while_quiet_and_stop_on_disconnect() -> None:
    release = asyncio.Event()

    async def quiet() -> AsyncIterator[str]:
        await release.wait()
        yield sse.frame({"x": 1}, "status", "7")

    request = _Request()
    stream = sse.with_keepalive(request, quiet(), interval=0.01)  # type: ignore[arg-type]
    assert await anext(stream) == sse.KEEPALIVE
    release.set()
    item = await anext(stream)
    while item == sse.KEEPALIVE:
        item = await anext(stream)
    assert item.startswith("id: 7\nevent: status\ndata: ")
    with pytest.raises(StopAsyncIteration):  # the source ended
        await anext(stream)
    never = asyncio.Event()

    async def silent() -> AsyncIterator[str]:
        await never.wait()
        yield ""

    request = _Request()
    stream = sse.with_keepalive(request, silent(), interval=0.01)  # type: ignore[arg-type]
    assert await anext(stream) == sse.KEEPALIVE
    request.gone = True
    with pytest.raises(StopAsyncIteration):  # the client left
        await anext(stream)


def test_last_event_id_parsing() -> None:
    assert sse.parse_last_event_id("42") == 42
    assert sse.parse_last_event_id("abc") is None and sse.parse_last_event_id(None) is None


async def test_progress_frames_follow_each_step_and_the_end_closes_the_stream(env: Env) -> None:
    training = await _training(env)
    ns = training["metadata"]["namespace"]
    frames = event_frames(env.ctx.cache, training, None)
    assert _parse(await anext(frames))["event"] == "status"
    await env.fake.patch(TRAININGS, "t1", {"status": {"phase": "Running"}}, ns, "status")
    assert _parse(await asyncio.wait_for(anext(frames), 5))["data"]["reason"] == "Running"
    for step, loss in ((1, 2.5), (2, 2.25), (3, 2.0)):
        await env.fake.patch(TRAININGS, "t1", {"status": {
            "progress": {"step": step, "totalSteps": 3, "percent": step * 100 / 3, "etaSeconds": 3 - step,
                         "tokensPerSecond": 900.0},
            "metrics": {"loss": loss, "learning_rate": 1e-3}}}, ns, "status")
        got = _parse(await asyncio.wait_for(anext(frames), 5))
        assert got["event"] == "progress"
        assert (got["data"]["step"], got["data"]["total_steps"], got["data"]["loss"]) == (step, 3, loss)
        assert got["data"]["eta_seconds"] == 3 - step and got["data"]["tokens_per_second"] == 900.0
    # A status write that moves no number (a condition refresh) sends nothing new.
    await env.fake.patch(TRAININGS, "t1", {"status": {"phase": "Running", "attempts": 1}}, ns, "status")
    await env.fake.patch(TRAININGS, "t1", {"status": {"phase": "Succeeded", "message": "done",
                                                      "summary": {"finalLoss": 2.0}}}, ns, "status")
    rest = [_parse(f) async for f in frames]  # the stream ends by itself
    assert [f["event"] for f in rest] == ["status", "end"]
    assert rest[1]["data"]["phase"] == "Succeeded" and rest[1]["data"]["progress"]["step"] == 3
    # Reconnecting after the end: the end again, at once.
    again = [_parse(f) async for f in event_frames(env.ctx.cache, training, None)]
    assert [f["event"] for f in again] == ["status", "progress", "end"]


async def test_a_final_status_overtaken_by_a_newer_event_still_ends_the_stream(env: Env) -> None:
    # The Training and Event watches deliver independently: the operator's Event about the end (a newer
    # revision) can reach the facade before the trainer's Succeeded write. The stream must still end.
    training = await _training(env)
    frames = event_frames(env.ctx.cache, training, None)
    assert _parse(await anext(frames))["event"] == "status"
    base = int(training["metadata"]["resourceVersion"])
    done = {**training, "metadata": {**training["metadata"], "resourceVersion": str(base + 5)},
            "status": {"phase": "Succeeded", "message": "training finished"}}
    event = _kube_event(training, "e-end", "Succeeded")
    event["metadata"] = {"name": "e-end", "namespace": training["metadata"]["namespace"],
                         "resourceVersion": str(base + 6)}
    env.ctx.cache._on_event(EVENTS, WatchEvent("ADDED", event))
    env.ctx.cache._on_event(TRAININGS, WatchEvent("MODIFIED", done))
    rest = [_parse(f) for f in await asyncio.wait_for(_drain(frames), 5)]
    assert [f["event"] for f in rest] == ["event", "status", "end"]
    assert rest[-1]["data"]["phase"] == "Succeeded"


async def _drain(frames: AsyncIterator[str]) -> list[str]:
    return [f async for f in frames]

"""GET .../events, GET .../events/stream (SSE) and POST .../callback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse
from kubernetes.client import ApiException

from kubetune.api import sse
from kubetune.api.cache import Cache
from kubetune.api.cluster import EVENTS, TRAININGS
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import events as ev
from kubetune.api.mapping import meta, progress
from kubetune.api.mapping.callback import status_patch
from kubetune.api.mapping.meta import Obj
from kubetune.api.mapping.query import Page as ResultPage
from kubetune.api.mapping.sktai import pagination
from kubetune.api.routes.sktai.common import Page, Size, training
from kubetune.api.schemas.sktai import TrainingEvent, TrainingEventsRead, TrainingTaskCallback

router = APIRouter()
MAX_ATTEMPTS = 5


def history(cache: Cache, obj: Obj) -> list[TrainingEvent]:
    uid = meta.uid(obj)
    items = [ev.from_kube_event(e, uid) for e in cache.events.by_extra(uid)]
    items += ev.from_conditions(obj)
    return sorted(items, key=lambda e: (e.created_at, e.id), reverse=True)


@router.get("/trainings/{training_id}/events", response_model=TrainingEventsRead,
            operation_id="sktai_list_training_events")
async def list_events(ctx: ContextDep, user: CurrentUser, training_id: str, page: Page = 1,
                      size: Size = 20) -> TrainingEventsRead:
    items = history(ctx.cache, training(ctx, user, training_id))
    start = (page - 1) * size
    result = ResultPage(items=[], page=page, size=size, total=len(items))
    return TrainingEventsRead(data=items[start:start + size], pagination=pagination(result))


def _transition(obj: Obj) -> tuple[str, str]:
    """What makes a status frame: the phase or the operator's message, not the percent that moves each step."""
    st = meta.status(obj)
    return str(st.get("phase") or "Pending"), str(st.get("message") or "")


async def event_frames(cache: Cache, obj: Obj, after: int | None) -> AsyncIterator[str]:
    """Replay what the cache holds after `after`, then follow the watches; ids are revisions.

    Frames: `status` on a phase or message change, `event` for each Kubernetes Event, `progress` for each
    step the trainer reports, and a last `end` frame once the Training has Succeeded or Failed (the
    stream then closes; a client that reconnects with Last-Event-ID after the end gets the end again).

    Revisions are one sequence across kinds, but the Training and Event watches deliver independently: an Event
    can arrive before a Training write older than it. So each kind is filtered against its own last revision;
    against one shared number, a final status overtaken by its own Event was dropped and the stream never ended.
    """
    uid = meta.uid(obj)
    with cache.subscribe() as sub:
        last = after if after is not None else ev.revision(obj)
        current = cache.trainings.by_uid(uid) or obj
        initial = ev.from_status(current)
        shown = _transition(current) if after is None else ("", "")
        step = progress.snapshot(current)
        if after is not None:
            backlog = [(ev.revision(e), ev.from_kube_event(e, uid), "event") for e in cache.events.by_extra(uid)]
            backlog.append((ev.revision(current), ev.from_status(current), "status"))
            for rev, item, kind in sorted(backlog, key=lambda t: t[0]):
                if rev > after:
                    last = max(last, rev)
                    if kind == "status":
                        shown = _transition(current)
                    yield sse.frame(item.model_dump(mode="json"), kind, item.id)
        else:
            yield sse.frame(initial.model_dump(mode="json"), "status", str(last))
        if step is not None:
            yield sse.frame(step, "progress", str(last))
        if progress.ended(current):
            yield sse.frame(progress.final(current), "end", str(last))
            return
        last_training, last_event = ev.revision(current), last
        async for change in sub.changes():
            rev = ev.revision(change.object)
            if change.res == TRAININGS and meta.uid(change.object) == uid:
                if rev <= last_training:
                    continue
                last_training = rev
                deleted = change.type == "DELETED"
                now = progress.snapshot(change.object)
                if progress.changed(step, now):
                    step = now
                    yield sse.frame(now, "progress", str(rev))
                item = ev.from_status(change.object)
                if deleted:
                    item = item.model_copy(update={"reason": "Deleted", "message": "training deleted"})
                if deleted or _transition(change.object) != shown:  # progress alone goes in progress frames
                    shown = _transition(change.object)
                    yield sse.frame(item.model_dump(mode="json"), "status", item.id)
                if deleted or progress.ended(change.object):
                    yield sse.frame(progress.final(change.object, deleted), "end", str(rev))
                    return
            elif change.res == EVENTS and (change.object.get("involvedObject") or {}).get("uid") == uid \
                    and change.type != "DELETED" and rev > last_event:
                last_event = rev
                item = ev.from_kube_event(change.object, uid)
                yield sse.frame(item.model_dump(mode="json"), "event", item.id)


@router.get("/trainings/{training_id}/events/stream", operation_id="sktai_stream_training_events",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "SSE: `status` and `event` frames carrying TrainingEvent JSON, "
                                            "`progress` frames (step, total_steps, percent, loss, eval_loss, "
                                            "learning_rate, tokens_per_second, eta_seconds) and a last `end` "
                                            "frame when the training ends; ids resume with Last-Event-ID; "
                                            "`: keep-alive` comments."}})
async def stream_events(request: Request, ctx: ContextDep, user: CurrentUser, training_id: str,
                        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None
                        ) -> StreamingResponse:
    obj = training(ctx, user, training_id)
    frames = event_frames(ctx.cache, obj, sse.parse_last_event_id(last_event_id))
    body = sse.with_keepalive(request, frames, ctx.settings.sse_keepalive_seconds)
    return StreamingResponse(body, media_type="text/event-stream", headers=sse.HEADERS)


@router.post("/trainings/{training_id}/callback", status_code=204, response_class=Response,
             operation_id="sktai_training_callback")
async def callback(ctx: ContextDep, user: CurrentUser, training_id: str, body: TrainingTaskCallback) -> Response:
    """Progress and metrics from an external trainer, written into status as the in-pod reporter does."""
    obj = training(ctx, user, training_id)
    if meta.status(obj).get("phase") in ("Succeeded", "Failed"):
        raise ApiError(409, "the training has finished; callbacks are closed")
    for _ in range(MAX_ATTEMPTS):
        patch = status_patch(obj, body)
        patch["metadata"] = {"resourceVersion": meta.meta(obj).get("resourceVersion")}
        try:
            updated = await ctx.cluster.patch(TRAININGS, meta.name(obj), patch, meta.namespace(obj), "status")
        except ApiException as exc:
            if exc.status != 409:
                raise
            obj = await ctx.cluster.get(TRAININGS, meta.name(obj), meta.namespace(obj))
            continue
        ctx.cache.remember(TRAININGS, updated)
        return Response(status_code=204)
    raise ApiError(409, "the training's status changed concurrently; try again")

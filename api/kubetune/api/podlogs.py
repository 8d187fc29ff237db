"""Pod logs for the REST API: which pod of a Training or InferenceService, and the streamed response.

The log is read through the Kubernetes API (pods/log) impersonating the caller, so the project's RBAC
decides, as for `kubectl logs`. Errors the API server gives before the first byte (no such pod, no
previous container) become the route's error; after that the body is already streaming.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import StreamingResponse

from kubetune.api.cluster import PODS
from kubetune.api.cluster.base import Cluster, LogOptions
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"

Follow = Annotated[bool, Query(description="Keep streaming new lines until the container ends.")]
Previous = Annotated[bool, Query(description="The log of the container before its last restart.")]
Tail = Annotated[int | None, Query(ge=0, le=100000, description="Only the last N lines.")]
Node = Annotated[int | None, Query(ge=0, le=1024, description="Node (completion index) of a multi-node run; "
                                                              "default: the first.")]
PodName = Annotated[str | None, Query(max_length=253, description="One pod by name; default: the newest.")]


def _index(pod: Obj) -> int:
    labels = meta.labels(pod)
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    raw = labels.get(COMPLETION_INDEX) or annotations.get(COMPLETION_INDEX) or "0"
    return int(raw) if str(raw).isdigit() else 0


def pick_pod(pods: list[Obj], node: int | None = None, name: str | None = None) -> Obj:
    """The pod to read: by name, else the newest of the given node (a Job replaces failed pods; the
    newest holds the current attempt, its restarts reachable with previous=true)."""
    if name is not None:
        candidates = [p for p in pods if meta.name(p) == name]
    else:
        wanted = node if node is not None else min((_index(p) for p in pods), default=0)
        candidates = [p for p in pods if _index(p) == wanted]
    if not candidates:
        what = f"pod {name!r}" if name else f"a pod for node {node}" if node is not None else "a pod"
        raise ApiError(404, f"no {what} yet: the workload has not started one (or it was cleaned up)")
    return max(candidates, key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "", meta.name(p)))


def main_container(pod: Obj) -> str | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    return str(containers[0]["name"]) if containers else None


async def list_pods(cluster: Cluster, namespace: str, selector: str) -> list[Obj]:
    return list((await cluster.list(PODS, namespace, label_selector=selector)).items)


async def log_response(cluster: Cluster, pod: Obj, follow: bool, previous: bool, tail: int | None
                       ) -> StreamingResponse:
    options = LogOptions(container=main_container(pod), follow=follow, previous=previous, tail_lines=tail)
    chunks = cluster.pod_log(meta.name(pod), meta.namespace(pod), options)
    first: Any = b""
    try:
        first = await chunks.__anext__()  # errors before the first byte still get their status code
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        if first is None:
            return
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), media_type="text/plain; charset=utf-8",
                             headers={"X-Kubetune-Pod": meta.name(pod), "Cache-Control": "no-cache"})

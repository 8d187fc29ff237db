"""Every store the facade reads, their informers, and change subscriptions for SSE."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubetune.api.cache.informer import Informer
from kubetune.api.cache.store import Obj, Store
from kubetune.api.cluster import (
    CONFIG_MAPS,
    DATASETS,
    EVENTS,
    INFERENCE_SERVICES,
    NAMESPACES,
    NODES,
    PODS,
    ROLE_BINDINGS,
    SECRETS,
    TRAINERS,
    TRAININGS,
    Cluster,
    Res,
    WatchEvent,
)
from kubetune.api.core.config import Settings
from kubetune.api.mapping import gpu
from kubetune.crd import labels as lbl
from kubetune.crd.base import API_VERSION
from kubetune.crd.project_roles import ROLE_LABEL

METRICS_COMPONENT = "api-metrics"  # ConfigMaps holding metrics created through the REST API


@dataclass(frozen=True)
class Change:
    res: Res
    type: str
    object: Obj


class Subscription:
    """A bounded queue of changes; on overflow it is closed and the client reconnects with Last-Event-ID."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def offer(self, change: Change) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def changes(self) -> AsyncIterator[Change]:
        while True:
            change = await self.queue.get()
            if change is None:
                return
            yield change


def _involved_uid(obj: Obj) -> str | None:
    return (obj.get("involvedObject") or {}).get("uid")


class Cache:
    def __init__(self, cluster: Cluster, settings: Settings) -> None:
        self.trainings = Store()
        self.trainers = Store()
        self.datasets = Store()
        self.inference_services = Store()
        self.namespaces = Store()
        self.events = Store(extra_index=_involved_uid)
        self.config_maps = Store()
        self.secrets = Store()
        self.nodes = Store()
        self.pods = Store()  # kubetune's own pods, whole (inference routing reads their IPs)
        self.gpu_pods = Store()  # every bound pod that requests GPUs, any namespace, summarised
        self.role_bindings = Store()  # projects' membership bindings (kubetune-viewer/-editor/-admin)
        self._subscribers: set[Subscription] = set()
        self._progress = asyncio.Event()  # set (and replaced) whenever any store changed
        self._tasks: list[asyncio.Task[None]] = []
        sys_ns = settings.system_namespace

        def informer(res: Res, store: Store, **kw: Any) -> Informer:
            return Informer(cluster, res, store, self._on_event, on_applied=self._on_applied, **kw)

        self.informers = [
            informer(TRAININGS, self.trainings),
            informer(TRAINERS, self.trainers),
            informer(DATASETS, self.datasets),
            informer(INFERENCE_SERVICES, self.inference_services),
            informer(NAMESPACES, self.namespaces, label_selector=lbl.PROJECT),
            informer(EVENTS, self.events, field_selector=f"involvedObject.apiVersion={API_VERSION}"),
            informer(CONFIG_MAPS, self.config_maps, label_selector=f"{lbl.COMPONENT}={METRICS_COMPONENT}"),
            informer(SECRETS, self.secrets, namespace=sys_ns, field_selector=f"metadata.name={settings.users_secret}"),
            informer(NODES, self.nodes),
            informer(ROLE_BINDINGS, self.role_bindings, label_selector=ROLE_LABEL),
            informer(PODS, self.pods, label_selector=f"{lbl.MANAGED_BY}={lbl.MANAGER}"),
            # The GPU view counts what every workload holds; only a few fields of GPU pods are kept
            # and their churn is not fanned out to SSE subscribers.
            informer(PODS, self.gpu_pods, field_selector=gpu.BOUND_PODS_SELECTOR, transform=gpu.gpu_pod_summary,
                     notify=False),
        ]

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(i.run(), name=f"informer-{i.res.plural}") for i in self.informers]

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.informers))

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- subscriptions -----------------------------------------------------------
    @contextlib.contextmanager
    def subscribe(self, maxsize: int = 1000) -> Iterator[Subscription]:
        sub = Subscription(maxsize)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _on_applied(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the stores satisfy predicate (checked after every change any informer applies)."""
        async with asyncio.timeout(timeout):
            while True:
                progress = self._progress  # taken before the check, so no change slips between the two
                if predicate():
                    return
                await progress.wait()

    def _on_event(self, res: Res, event: WatchEvent) -> None:
        change = Change(res, event.type, event.object)
        for sub in list(self._subscribers):
            sub.offer(change)

    # -- read-your-writes ----------------------------------------------------------
    def store_for(self, res: Res) -> Store:
        stores = {TRAININGS: self.trainings, TRAINERS: self.trainers, DATASETS: self.datasets,
                  INFERENCE_SERVICES: self.inference_services, NAMESPACES: self.namespaces,
                  EVENTS: self.events, CONFIG_MAPS: self.config_maps, SECRETS: self.secrets,
                  NODES: self.nodes, PODS: self.pods, ROLE_BINDINGS: self.role_bindings}
        return stores[res]

    def remember(self, res: Res, obj: Obj) -> Obj:
        """Put what a write returned into the store now, so the writer's next read sees it."""
        self.store_for(res).upsert(obj)
        return obj

    def forget(self, res: Res, obj: Obj) -> None:
        self.store_for(res).remove(obj)

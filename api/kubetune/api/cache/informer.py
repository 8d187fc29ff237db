"""List, then watch, one resource type into a Store; relist on 410 Gone.

After a relist the informer reports the difference against what it held (changes and
deletions missed while the watch was down), so subscribers stay correct across restarts.

A `transform` keeps only what the facade reads of each object (or drops it: None), so a
cluster-wide watch such as every pod costs memory in proportion to what is kept; `notify=False`
keeps such high-churn streams away from the SSE subscribers, who never read them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kubernetes.client import ApiException

from kubetune.api.cache.store import Obj, Store
from kubetune.api.cluster.base import Cluster, WatchEvent
from kubetune.api.cluster.resources import Res

log = logging.getLogger(__name__)
RETRY_SECONDS = (0.2, 0.5, 1, 2, 5)

Listener = Callable[[Res, WatchEvent], None]
Transform = Callable[[Obj], Obj | None]


class Informer:
    def __init__(self, cluster: Cluster, res: Res, store: Store, listener: Listener,
                 namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, transform: Transform | None = None,
                 notify: bool = True, on_applied: Callable[[], None] | None = None) -> None:
        self.cluster = cluster
        self.res = res
        self.store = store
        self.listener = listener
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.transform = transform
        self.notify = notify
        self.on_applied = on_applied or (lambda: None)  # after every change to the store, notified or not
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0

    async def run(self) -> None:
        failures = 0
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                await self._watch()
                failures = 0
            except ApiException as exc:
                if exc.status == 410:
                    log.info("%s watch expired at %s; relisting", self.res.plural, self.resource_version)
                    need_list = True
                    continue
                failures += 1
                log.warning("%s watch failed (%s); retrying", self.res.plural, exc.status)
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("%s watch broke; relisting", self.res.plural)
                need_list = True
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    async def _relist(self) -> None:
        listing = await self.cluster.list(self.res, self.namespace, self.label_selector, self.field_selector)
        items = listing.items
        if self.transform is not None:
            items = [kept for kept in map(self.transform, items) if kept is not None]
        changed, removed = self.store.replace_all(items)
        self.resource_version = listing.resource_version
        self.relists += 1
        if self.synced.is_set() and self.notify:  # tell subscribers what they missed; the first listing is the baseline
            for obj in removed:
                self.listener(self.res, WatchEvent("DELETED", obj))
            for obj in changed:
                self.listener(self.res, WatchEvent("MODIFIED", obj))
        self.synced.set()
        self.on_applied()

    async def _watch(self) -> None:
        stream = self.cluster.watch(self.res, self.resource_version, self.namespace, self.label_selector,
                                    self.field_selector)
        async for event in stream:
            rv = (event.object.get("metadata") or {}).get("resourceVersion")
            if rv:
                self.resource_version = str(rv)
            if event.type == "BOOKMARK":
                continue
            kept = event.object if self.transform is None else self.transform(event.object)
            if event.type == "DELETED" or kept is None:
                self.store.remove(event.object)
            else:
                self.store.upsert(kept)
            if self.notify:
                self.listener(self.res, event)
            self.on_applied()

"""Seed 003's numeric ids: one counter in a ConfigMap, advanced with optimistic concurrency.

Every allocation reads the counter, writes counter+1 with the resourceVersion it read
(PUT fails with 409 if another replica got there first) and retries. Ids are unique
across all kinds and namespaces and never reused, because the counter only grows.
"""

from __future__ import annotations

import asyncio

from kubernetes.client import ApiException

from kubetune.api.cluster import CONFIG_MAPS, Cluster
from kubetune.api.mapping.meta import is_number

COUNTER_KEY = "next"
MAX_ATTEMPTS = 20


class IdAllocator:
    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self._lock = asyncio.Lock()  # one allocation at a time per replica; replicas race through 409s

    async def allocate(self) -> int:
        async with self._lock:
            for _ in range(MAX_ATTEMPTS):
                try:
                    current = await self.cluster.get(CONFIG_MAPS, self.name, self.namespace)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                    if await self._create_first():
                        return 1
                    continue
                raw = (current.get("data") or {}).get(COUNTER_KEY, "1")
                value = int(raw) if is_number(raw) else 1
                current.setdefault("data", {})[COUNTER_KEY] = str(value + 1)
                try:
                    await self.cluster.replace(CONFIG_MAPS, self.name, current, self.namespace)
                except ApiException as exc:
                    if exc.status == 409:
                        continue
                    raise
                return value
        raise ApiException(status=409, reason="id counter is contended; try again")

    async def _create_first(self) -> bool:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": self.name, "namespace": self.namespace}, "data": {COUNTER_KEY: "2"}}
        try:
            await self.cluster.create(CONFIG_MAPS, body, self.namespace)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

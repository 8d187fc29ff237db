"""GPU readings of every node, gathered to rank 0 for the Training's status.

Only rank 0 reports, but it sees only its own node's devices. So the first process of each node
(local rank 0) reads its node's GPUs, and one ``gather_object`` brings every node's readings to
rank 0, tagged with the node index. The gather is a collective, so every rank must call it on the
same step: rank 0 decides when a reading is due (at most once per reporting interval) and says so in
the one ``all_reduce`` the loop already makes per step (``due_flag``), so the cadence costs no
extra collective and the gather itself runs only at reporting cadence. The reporter thread never
touches the process group: it reads the latest gathered list (``status_fields``).

One process: the reporter reads the devices itself, as before (no collective, no cadence).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubetune.crd.training import MAX_GPU_READINGS

Reader = Callable[[], list[dict[str, Any]]]
# The pod's index, as the operator's Indexed Job sets it; torchrun's node rank when there is none.
NODE_INDEX_ENVS = ("JOB_COMPLETION_INDEX", "NODE_RANK", "GROUP_RANK")


def node_index(env: Mapping[str, str] | None = None) -> int:
    """This process's node (pod) index: what ``status.nodeStates`` calls the node, 0 on one node."""
    env = os.environ if env is None else env
    for name in NODE_INDEX_ENVS:
        value = env.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def tag(readings: list[dict[str, Any]], node: int) -> list[dict[str, Any]]:
    """Readings (wire names) with their node index."""
    return [{**reading, "node": node} for reading in readings]


def merge(per_rank: list[list[dict[str, Any]] | None]) -> list[dict[str, Any]]:
    """Rank 0's view: every node's readings in node then device order, at most ``MAX_GPU_READINGS``."""
    readings = [reading for part in per_rank if part for reading in part]
    readings.sort(key=lambda r: (r.get("node", 0), r.get("index", 0)))
    return readings[:MAX_GPU_READINGS]


class GpuReadings:
    """The readings a run reports: read locally on one process, gathered over the group on several."""

    def __init__(self, reader: Reader, *, interval: float = 5.0, node: int | None = None) -> None:
        self.reader = reader  # e.g. ``GpuProbe().readings``; tests inject their own
        self.interval = interval
        self.node = node_index() if node is None else node
        self._world: Any = None
        self._latest: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._gathered_at = -float("inf")

    def attach(self, world: Any) -> None:
        """Called once the process group exists; from then on readings come from ``collect``."""
        self._world = world if world is not None and world.distributed else None

    def due_flag(self) -> float:
        """1.0 on rank 0 when a gather is due, else 0.0: summed over ranks, every rank learns it."""
        world = self._world
        if world is None or not world.is_main:
            return 0.0
        return 1.0 if time.monotonic() - self._gathered_at >= self.interval else 0.0

    def collect(self) -> None:
        """The collective: each node's local rank 0 reads, rank 0 keeps everyone's (every rank calls it)."""
        world = self._world
        if world is None:
            return
        import torch.distributed as dist

        mine = tag(self._read(), self.node) if world.local_rank == 0 else []
        parts: list[list[dict[str, Any]] | None] | None = [None] * world.world_size if world.is_main else None
        dist.gather_object(mine, parts, dst=0)
        if parts is not None:
            with self._lock:
                self._latest = merge(parts)
            self._gathered_at = time.monotonic()

    def _read(self) -> list[dict[str, Any]]:
        try:
            return self.reader()
        except Exception:  # a probe (NVML) must never stop training
            return []

    def status_fields(self) -> dict[str, Any]:
        """``{"gpu": [...]}`` for the reporter thread when there are readings, else nothing."""
        if self._world is None:
            readings = tag(self._read(), self.node)[:MAX_GPU_READINGS]
        else:
            with self._lock:
                readings = list(self._latest)
        return {"gpu": readings} if readings else {}

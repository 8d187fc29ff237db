"""Seed 003's GPU view from node capacity, pod requests and the NVML readings trainer pods report."""

from __future__ import annotations

from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.platform import GpuMetric, GpuNode, GpuStatus

GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"


def _count(value: Any) -> int:
    try:
        return int(str(value or 0))
    except ValueError:
        return 0


def _pod_gpus(pod: Obj) -> int:
    total = 0
    for container in meta.spec(pod).get("containers") or []:
        res = container.get("resources") or {}
        total += _count((res.get("limits") or {}).get(GPU) or (res.get("requests") or {}).get(GPU))
    return total


def gpu_status(nodes: list[Obj], pods: list[Obj], running_trainings: list[Obj]) -> GpuStatus:
    allocated: dict[str, int] = {}
    for pod in pods:
        if meta.status(pod).get("phase") in ("Pending", "Running") and meta.spec(pod).get("nodeName"):
            node = meta.spec(pod)["nodeName"]
            allocated[node] = allocated.get(node, 0) + _pod_gpus(pod)
    node_rows = [
        GpuNode(name=meta.name(n), capacity=_count((meta.status(n).get("capacity") or {}).get(GPU)),
                allocatable=_count((meta.status(n).get("allocatable") or {}).get(GPU)),
                allocated=allocated.get(meta.name(n), 0), product=meta.labels(n).get(PRODUCT_LABEL))
        for n in sorted(nodes, key=meta.name)
    ]
    readings: list[GpuMetric] = []
    for training in sorted(running_trainings, key=lambda t: (meta.namespace(t), meta.name(t))):
        for gpu in meta.status(training).get("gpu") or []:
            readings.append(GpuMetric(
                gpu_id=len(readings), name=gpu.get("name", ""),
                total_memory_mb=float(gpu.get("memoryTotalMb") or 0),
                used_memory_mb=float(gpu.get("memoryUsedMb") or 0),
                utilization_percent=float(gpu.get("utilizationPercent") or 0),
                temperature_c=gpu.get("temperatureC"), power_watts=gpu.get("powerWatts"),
                training=f"{meta.namespace(training)}/{meta.name(training)}"))
    total = sum(n.capacity for n in node_rows) or len(readings)
    utils = [r.utilization_percent for r in readings]
    return GpuStatus(
        total_gpus=total, total_memory_mb=sum(r.total_memory_mb for r in readings),
        used_memory_mb=sum(r.used_memory_mb for r in readings),
        avg_utilization=round(sum(utils) / len(utils), 2) if utils else 0.0, metrics=readings, nodes=node_rows)

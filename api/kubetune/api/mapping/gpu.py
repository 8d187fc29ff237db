"""Seed 003's GPU view: node capacity, the GPU requests of every pod bound to a node, NVML readings.

Allocations count every non-terminal pod bound to a node, in any namespace, not only kubetune's:
a GPU another workload holds is as unavailable as one a training holds. The cache keeps only a
summary of pods that request GPUs (`gpu_pod_summary`), so watching all pods stays cheap.
"""

from __future__ import annotations

from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.platform import GpuMetric, GpuNode, GpuStatus
from kubetune.crd import labels as lbl

GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
TERMINAL_PHASES = ("Succeeded", "Failed")
# What the GPU pod informer asks the API server for: bound, not finished (the scheduler's own view).
BOUND_PODS_SELECTOR = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
# A multi-node Training's pods carry their index (Kubernetes 1.28+ labels Indexed Job pods with it):
# a GPU reading's `node` is that index, so each reading is shown on the machine of its own pod.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
KEPT_LABELS = (lbl.TRAINING, lbl.COMPONENT, COMPLETION_INDEX)


def _count(value: Any) -> int:
    try:
        return max(int(str(value or 0)), 0)
    except ValueError:
        return 0


def _container_gpus(container: Obj) -> int:
    # Extended resources cannot be overcommitted: a request defaults to the limit and must equal it.
    res = container.get("resources") or {}
    requested = (res.get("requests") or {}).get(GPU)
    return _count(requested if requested is not None else (res.get("limits") or {}).get(GPU))


def pod_gpu_request(pod: Obj) -> int:
    """The pod's effective GPU request, computed as the scheduler does.

    App containers and sidecars (restartable init containers) add up; a plain init container
    runs alone beside the sidecars started before it, so the pod needs the larger of the two.
    """
    spec = meta.spec(pod)
    total = sum(_container_gpus(c) for c in spec.get("containers") or [])
    sidecars = 0
    init_peak = 0
    for container in spec.get("initContainers") or []:
        gpus = _container_gpus(container)
        if container.get("restartPolicy") == "Always":
            total += gpus
            sidecars += gpus
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, gpus + sidecars)
    return max(total, init_peak) + _count((spec.get("overhead") or {}).get(GPU))


def gpu_pod_summary(pod: Obj) -> Obj | None:
    """What the cache keeps of a pod: None unless it requests GPUs, else name, node, phase and count."""
    gpus = pod_gpu_request(pod)
    if gpus <= 0:
        return None
    md = pod.get("metadata") or {}
    labels = md.get("labels") or {}
    return {
        "metadata": {"name": md.get("name"), "namespace": md.get("namespace"), "uid": md.get("uid"),
                     "resourceVersion": md.get("resourceVersion"),
                     "labels": {k: labels[k] for k in KEPT_LABELS if k in labels}},
        "spec": {"nodeName": meta.spec(pod).get("nodeName")},
        "status": {"phase": meta.status(pod).get("phase")},
        "gpus": gpus,
    }


def _holds_gpus(pod: Obj) -> bool:
    return bool(meta.spec(pod).get("nodeName")) and meta.status(pod).get("phase") not in TERMINAL_PHASES


def allocations(pods: list[Obj]) -> dict[str, int]:
    """GPUs requested per node by the pods bound there and not finished."""
    allocated: dict[str, int] = {}
    for pod in pods:
        if _holds_gpus(pod):
            node = meta.spec(pod)["nodeName"]
            allocated[node] = allocated.get(node, 0) + int(pod.get("gpus") or pod_gpu_request(pod))
    return allocated


def trainer_nodes(pods: list[Obj]) -> dict[tuple[str, str, int], str]:
    """(namespace, training name, node index) -> the machine that pod of the Training runs on."""
    out: dict[tuple[str, str, int], str] = {}
    for pod in pods:
        labels = meta.labels(pod)
        training = labels.get(lbl.TRAINING)
        if training and _holds_gpus(pod):
            index = _count(labels.get(COMPLETION_INDEX))
            out.setdefault((meta.namespace(pod), training, index), meta.spec(pod)["nodeName"])
    return out


def gpu_status(nodes: list[Obj], gpu_pods: list[Obj], running_trainings: list[Obj]) -> GpuStatus:
    allocated = allocations(gpu_pods)
    node_rows = []
    for n in sorted(nodes, key=meta.name):
        allocatable = _count((meta.status(n).get("allocatable") or {}).get(GPU))
        used = allocated.get(meta.name(n), 0)
        node_rows.append(GpuNode(
            name=meta.name(n), capacity=_count((meta.status(n).get("capacity") or {}).get(GPU)),
            allocatable=allocatable, allocated=used, available=max(allocatable - used, 0),
            product=meta.labels(n).get(PRODUCT_LABEL)))
    where = trainer_nodes(gpu_pods)
    readings: list[GpuMetric] = []
    for training in sorted(running_trainings, key=lambda t: (meta.namespace(t), meta.name(t))):
        for gpu in meta.status(training).get("gpu") or []:
            readings.append(GpuMetric(
                gpu_id=len(readings), name=gpu.get("name", ""),
                total_memory_mb=float(gpu.get("memoryTotalMb") or 0),
                used_memory_mb=float(gpu.get("memoryUsedMb") or 0),
                utilization_percent=float(gpu.get("utilizationPercent") or 0),
                temperature_c=gpu.get("temperatureC"), power_watts=gpu.get("powerWatts"),
                node=where.get((meta.namespace(training), meta.name(training), _count(gpu.get("node")))),
                training=f"{meta.namespace(training)}/{meta.name(training)}"))
    total = sum(n.capacity for n in node_rows) or len(readings)
    utils = [r.utilization_percent for r in readings]
    return GpuStatus(
        total_gpus=total, allocated_gpus=sum(n.allocated for n in node_rows),
        total_memory_mb=sum(r.total_memory_mb for r in readings),
        used_memory_mb=sum(r.used_memory_mb for r in readings),
        avg_utilization=round(sum(utils) / len(utils), 2) if utils else 0.0, metrics=readings, nodes=node_rows)

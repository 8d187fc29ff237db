"""GET /api/v1/gpu: node capacity, the GPU requests of every bound pod (any namespace), NVML readings."""

from __future__ import annotations

from typing import Any

import pytest
from api_env import Env

from kubetune.api.cluster import NAMESPACES, NODES, PODS
from kubetune.api.mapping import gpu
from kubetune.api.schemas import platform as s
from kubetune.crd import labels as lbl

pytestmark = pytest.mark.unit


def _pod(name: str, gpus: int, node: str | None, phase: str, **extra: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "x"}
    if gpus:
        container["resources"] = {"limits": {gpu.GPU: str(gpus)}}
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, **extra}, "spec": spec, "status": {"phase": phase}}


def _node(name: str, gpus: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {gpu.PRODUCT_LABEL: "H100"}},
        "status": {"capacity": {gpu.GPU: str(gpus)}, "allocatable": {gpu.GPU: str(gpus)}},
    }


def test_effective_request_follows_the_scheduler() -> None:
    def c(n: int, **kw: str) -> dict[str, Any]:
        return {"name": "c", "resources": {"requests": {gpu.GPU: str(n)}, "limits": {gpu.GPU: str(n)}}, **kw}

    plain = {"spec": {"containers": [c(1), c(2)]}}
    assert gpu.pod_gpu_request(plain) == 3
    big_init = {"spec": {"containers": [c(1)], "initContainers": [c(4)]}}
    assert gpu.pod_gpu_request(big_init) == 4  # the init container runs alone, before the app
    sidecar = {"spec": {"containers": [c(1)], "initContainers": [c(2, restartPolicy="Always"), c(2)]}}
    assert gpu.pod_gpu_request(sidecar) == 4  # sidecar 2 + init 2 beside it; app 1 + sidecar 2 = 3
    limits_only = {"spec": {"containers": [{"name": "c", "resources": {"limits": {gpu.GPU: "2"}}}]}}
    assert gpu.pod_gpu_request(limits_only) == 2
    garbage = {"spec": {"containers": [{"name": "c", "resources": {"limits": {gpu.GPU: "lots"}}}]}}
    assert gpu.pod_gpu_request(garbage) == 0
    assert gpu.gpu_pod_summary({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}) is None
    summary = gpu.gpu_pod_summary(
        {"metadata": {"name": "p", "namespace": "n", "labels": {"big": "x" * 1000, lbl.TRAINING: "t"}},
         "spec": {"nodeName": "a", "containers": [c(2)], "volumes": [{"name": "v"}]}, "status": {"phase": "Running"}}
    )
    assert summary is not None and summary["gpus"] == 2 and summary["metadata"]["labels"] == {lbl.TRAINING: "t"}
    assert "volumes" not in summary["spec"]


async def _settle(env: Env, names: set[str]) -> None:
    """Wait until the GPU pod store holds exactly `names` (that informer notifies no SSE subscriber)."""
    await env.ctx.cache.until(lambda: {p["metadata"]["name"] for p in env.ctx.cache.gpu_pods.all()} == names, 5)


async def test_allocations_count_every_bound_pod_of_any_namespace(env: Env) -> None:
    await env.fake.create(NAMESPACES, {"metadata": {"name": "other-team"}})
    for node in (_node("gpu-1", 8), _node("gpu-2", 4)):
        await env.changed(NODES, lambda node=node: env.fake.create(NODES, node), lambda ch: True)
    pods = [
        _pod("their-job", 2, "gpu-1", "Running"),
        _pod("bound-pending", 1, "gpu-2", "Pending"),
        _pod("unbound", 4, None, "Pending"),
        _pod("finished", 3, "gpu-1", "Succeeded"),
        _pod("cpu-only", 0, "gpu-1", "Running"),
    ]
    for pod in pods:  # no kubetune labels: somebody else's workloads
        await env.fake.create(PODS, pod, "other-team")
    await _settle(env, {"their-job", "bound-pending"})
    listed_before = env.fake.calls.count(("list", "pods"))

    view = s.GpuStatus.model_validate((await env.client.get("/api/v1/gpu", headers=env.auth("alice"))).json())
    by_node = {n.name: n for n in view.nodes}
    assert (by_node["gpu-1"].allocated, by_node["gpu-2"].allocated) == (2, 1)
    assert (by_node["gpu-1"].available, by_node["gpu-2"].available) == (6, 3)
    assert view.total_gpus == 12 and view.allocated_gpus == 3

    # A pod that finishes leaves the informer's selector: the API server reports it DELETED.
    await env.fake.patch(PODS, "their-job", {"status": {"phase": "Succeeded"}}, "other-team")
    await _settle(env, {"bound-pending"})
    await env.fake.delete(PODS, "bound-pending", "other-team")
    await _settle(env, set())
    view = s.GpuStatus.model_validate((await env.client.get("/api/v1/gpu", headers=env.auth("alice"))).json())
    assert [n.allocated for n in view.nodes] == [0, 0] and view.allocated_gpus == 0
    assert env.ctx.cache.gpu_pods.all() == []
    assert env.fake.calls.count(("list", "pods")) == listed_before  # served from the cache


async def test_readings_name_the_node_of_the_trainer_pod(env: Env, chat_jsonl: bytes) -> None:
    up = await env.client.post(
        "/api/finetune/upload-dataset", files={"file": ("d.jsonl", chat_jsonl)}, headers=env.auth("alice")
    )
    job = await env.client.post(
        "/api/finetune/jobs",
        json={"name": "g", "provider": "LORA", "model_name": "llama2-7b", "dataset_path": up.json()["path"]},
        headers=env.auth("alice"),
    )
    assert job.status_code == 201, job.text
    uid = job.json()["job"]["id"]
    training = env.ctx.cache.trainings.by_uid(uid)
    ns, name = training["metadata"]["namespace"], training["metadata"]["name"]
    await env.changed(NODES, lambda: env.fake.create(NODES, _node("gpu-9", 2)), lambda ch: True)
    trainer = _pod(f"{name}-train-x", 1, "gpu-9", "Running",
                   labels={lbl.TRAINING: name, lbl.MANAGED_BY: lbl.MANAGER, lbl.COMPONENT: "trainer"})
    await env.fake.create(PODS, trainer, ns)
    await _settle(env, {trainer["metadata"]["name"]})
    reading = {"index": 0, "name": "NVIDIA H100", "utilizationPercent": 45, "memoryUsedMb": 4096,
               "memoryTotalMb": 81920, "temperatureC": 58, "powerWatts": 320.5}
    await env.set_status(uid, {"phase": "Running", "gpu": [reading]})

    mine = s.GpuStatus.model_validate((await env.client.get("/api/v1/gpu", headers=env.auth("alice"))).json())
    assert [(m.name, m.node, m.utilization_percent) for m in mine.metrics] == [("NVIDIA H100", "gpu-9", 45.0)]
    assert mine.nodes[0].allocated == 1 and mine.used_memory_mb == 4096 and mine.avg_utilization == 45.0
    theirs = s.GpuStatus.model_validate((await env.client.get("/api/v1/gpu", headers=env.auth("bob"))).json())
    assert theirs.metrics == [] and theirs.nodes[0].allocated == 1  # node totals are shared, readings are not


async def test_a_relist_keeps_only_summaries(env: Env) -> None:
    await env.fake.create(NAMESPACES, {"metadata": {"name": "batch"}})
    informer = next(i for i in env.ctx.cache.informers if i.store is env.ctx.cache.gpu_pods)
    relists = informer.relists
    env.fake.drop_watches()  # the watch ends; while it is down a pod appears and history is compacted
    await env.fake.create(PODS, _pod("late", 4, "gpu-1", "Running"), "batch")
    env.fake.compact()
    await env.ctx.cache.until(lambda: informer.relists > relists and len(env.ctx.cache.gpu_pods) == 1, 5)
    (kept,) = env.ctx.cache.gpu_pods.all()
    assert kept["gpus"] == 4 and "containers" not in kept["spec"]

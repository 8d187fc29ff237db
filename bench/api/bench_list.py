"""Benchmark the facade's cached list against listing through the API server, on the real control plane.

    .venv/bin/python bench/api/bench_list.py                    # 10,000 Trainings, 200 SSE subscribers
    .venv/bin/python bench/api/bench_list.py --trainings 2000   # quicker

Both handlers run in this process over ASGI, in the same run, on the same objects: the facade's
`GET /api/v1/trainings` (watch-fed cache) and a baseline route that LISTs Trainings from the API
server on every request and then pages, sorts and filters exactly like the facade. Results go to
bench/results/api.json; docs/benchmarks.md cites them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from kubetune.api.cluster import NAMESPACES, TRAININGS
from kubetune.api.cluster.kube import KubeCluster
from kubetune.api.core.config import Settings
from kubetune.api.main import create_app
from kubetune.api.mapping import query
from kubetune.api.mapping import sktai as m
from kubetune.api.routes.sktai.events import event_frames
from kubetune.crd import labels as lbl
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.crds import install_crds

QUERY = "page=3&size=20&sort=-created_at&filter=task_id:task-3"
RESULTS = Path(__file__).resolve().parents[1] / "results" / "api.json"


def create_trainings(api: client.ApiClient, namespace: str, count: int) -> None:
    custom = client.CustomObjectsApi(api)

    def one(i: int) -> None:
        body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training",
                "metadata": {"name": f"t-{i}", "labels": {lbl.TASK: f"task-{i % 10}", lbl.PROJECT: "bench"}},
                "spec": {"trainerRef": "lora", "baseModel": "tiny", "dataset": {"uri": "s3://bench/d.jsonl"},
                         "displayName": f"run {i}"}}
        custom.create_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings", body)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
            "requests_per_s": round(len(ordered) / seconds, 1), "requests": len(ordered)}


async def measure(http: httpx.AsyncClient, url: str, headers: dict[str, str], count: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        resp = await http.get(url, headers=headers)
        latencies.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.text
    return summary(latencies, time.perf_counter() - started)


async def sse_fanout(app: Any, api: client.ApiClient, namespace: str, subscribers: int) -> dict[str, float]:
    cache = app.state.ctx.cache
    training = cache.trainings.get("t-0", namespace)
    streams = [event_frames(cache, training, None) for _ in range(subscribers)]
    await asyncio.gather(*(anext(s) for s in streams))  # the initial status frame of each
    received: list[float] = []
    started = time.perf_counter()

    async def wait(stream: Any) -> None:
        await anext(stream)
        received.append(time.perf_counter() - started)

    waiters = [asyncio.create_task(wait(s)) for s in streams]
    await asyncio.to_thread(client.CustomObjectsApi(api).patch_namespaced_custom_object_status,
                            "kubetune.io", "v1alpha1", namespace, "trainings", "t-0",
                            {"status": {"phase": "Running", "message": "bench transition"}})
    await asyncio.wait_for(asyncio.gather(*waiters), 30)
    for s in streams:
        await s.aclose()
    return {"subscribers": subscribers, "all_received_ms": round(max(received) * 1000, 1),
            "median_ms": round(statistics.median(received) * 1000, 1)}


async def run(api: client.ApiClient, trainings: int, requests: int, subscribers: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    storage = tempfile.mkdtemp(prefix="kt-bench-")
    settings = Settings(environment="development", storage_root=f"file://{storage}", bcrypt_rounds=4,
                        system_namespace=f"ktsys-{tag}", project_namespace_prefix=f"b{tag}-")
    cluster = KubeCluster(api)
    await cluster.create(NAMESPACES, {"metadata": {"name": settings.system_namespace}})
    namespace = f"b{tag}-bench"
    await cluster.create(NAMESPACES, {"metadata": {"name": namespace, "labels": {lbl.PROJECT: "bench"},
                                                   "annotations": {lbl.OWNER: "admin"}}})
    t0 = time.perf_counter()
    await asyncio.to_thread(create_trainings, api, namespace, trainings)
    create_s = time.perf_counter() - t0
    app = create_app(settings, cluster)

    @app.get("/baseline/trainings")
    async def baseline(page: int = 3, size: int = 20, sort: str = "-created_at",
                       filter: str = "task_id:task-3") -> dict[str, Any]:
        listing = await cluster.list(TRAININGS)  # what the cache saves: a LIST per request
        getters = m.training_getters(lambda ns: ns)
        result = query.apply(listing.items, getters, page, size, query.parse_sort(sort, m.TRAINING_SORT),
                             query.parse_filter(filter, m.TRAINING_FILTER), None)
        return {"data": [m.training(o, "bench", lambda n: n).model_dump(mode="json") for o in result.items],
                "total": result.total}

    async with app.router.lifespan_context(app):
        sync_s = time.perf_counter() - t0 - create_s
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            token = (await http.post("/api/v1/auth/token", data={"username": "admin", "password": "admin123"})
                     ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            await measure(http, f"/api/v1/trainings?{QUERY}", headers, 5)  # warm-up
            cached = await measure(http, f"/api/v1/trainings?{QUERY}", headers, requests)
            base = await measure(http, "/baseline/trainings", headers, max(5, requests // 20))
            fanout = await sse_fanout(app, api, namespace, subscribers)
    await cluster.delete(NAMESPACES, namespace)
    await cluster.delete(NAMESPACES, settings.system_namespace)
    return {"trainings": trainings, "query": QUERY, "create_seconds": round(create_s, 1),
            "cache_sync_seconds": round(sync_s, 2), "cached": cached, "baseline_list_per_request": base,
            "throughput_ratio": round(cached["requests_per_s"] / base["requests_per_s"], 1), "sse": fanout}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainings", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--subscribers", type=int, default=200)
    args = parser.parse_args(argv)
    with ControlPlane.start() as cp, client.ApiClient(client_configuration(cp.kubeconfig)) as api:
        install_crds(api)
        results = asyncio.run(run(api, args.trainings, args.requests, args.subscribers))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

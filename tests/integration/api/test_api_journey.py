"""The journey through REST alone, on the real control plane with the operator in-process and a local node.

Upload a dataset, submit a LoRA training (serve on by default), see it in the task list and the SSE
stream, read a falling loss curve, and generate with the served result. The trainer (kubetune-train)
and the server (kubetune-serve) really run, as host processes of the local node, on a tiny model
made here.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from api_facade import StreamReader
from kubernetes import client

from kubetune.api.cache import Cache
from kubetune.api.cluster import INFERENCE_SERVICES, NAMESPACES, TRAININGS, Res
from kubetune.api.cluster.kube import KubeCluster
from kubetune.api.core.config import Settings
from kubetune.api.main import create_app
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.facade_identity import facade_api_client, remove_facade_binding
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings as OperatorSettings

pytestmark = pytest.mark.integration
ROWS = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                      {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(24)]


# The operator and the facade share it, as the chart's auth Secret makes them: servers ask for a key.
SERVING_KEY = uuid.uuid4().hex * 2


@pytest.fixture(scope="module")
def platform(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local node and the operator, sharing one artifact directory with the facade."""
    from kubetune.testing.tiny import make_tiny_causal_lm

    artifacts = tmp_path_factory.mktemp("journey-artifacts")
    make_tiny_causal_lm(artifacts / "models" / "tiny")
    name = f"api-journey-{uuid.uuid4().hex[:4]}"
    node = NodeConfig(kubeconfig=control_plane.kubeconfig, name=name, state_dir=tmp_path_factory.mktemp("journey-node"),
                      restart_backoff_seconds=1.0, kubelet_tls=control_plane.kubelet_tls(name))
    settings = OperatorSettings(
        kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, artifact_mount_path=str(artifacts),
        leader_election=False, metrics_port=0, health_port=0, log_format="text", default_backoff_limit=0,
        serve_command=[sys.executable, "-m", "kubetune.serve.cli"], report_interval_seconds=0.5,
        serving_key_secret=SERVING_KEY)
    with NodeAgent(node), OperatorThread(settings):
        yield artifacts


@pytest_asyncio.fixture(loop_scope="function")
async def journey_app(api_client: client.ApiClient, platform: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    tag = uuid.uuid4().hex[:6]
    settings = Settings(environment="development", storage_root=f"file://{platform}", bcrypt_rounds=4,
                        system_namespace=f"ktsys-{tag}", project_namespace_prefix=f"j{tag}-",
                        inference_routing="pod", sse_keepalive_seconds=1, serving_key_secret=SERVING_KEY)
    cluster = KubeCluster(api_client)
    await cluster.create(NAMESPACES, {"metadata": {"name": settings.system_namespace}})
    own = await asyncio.to_thread(facade_api_client, api_client, settings.system_namespace, tag)  # as the chart
    app = create_app(settings, KubeCluster(own))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://facade",
                                                                    timeout=120) as http:
        yield app, http
    own.close()
    await cluster.delete(NAMESPACES, settings.system_namespace)
    await asyncio.to_thread(remove_facade_binding, api_client, tag)


async def wait_for(cache: Cache, res: Res, predicate: Callable[[dict[str, Any]], bool],
                   seconds: float) -> dict[str, Any]:
    """The first object of `res` in the cache that satisfies predicate, now or after a change."""
    with cache.subscribe(maxsize=100000) as sub:
        for obj in cache.store_for(res).all():
            if predicate(obj):
                return obj
        async with asyncio.timeout(seconds):
            async for change in sub.changes():
                if change.res == res and change.type != "DELETED" and predicate(change.object):
                    return change.object
    raise AssertionError("subscription overflowed")


async def test_dataset_to_served_model_through_rest(journey_app: tuple[Any, httpx.AsyncClient], platform: Path) -> None:
    app, http = journey_app
    cache: Cache = app.state.ctx.cache
    login = await http.post("/api/v1/auth/token", data={"username": "admin", "password": "admin123"})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    trainer = f"lora-{uuid.uuid4().hex[:6]}"
    made = await http.post("/api/v1/trainers", headers=admin, json={
        "name": trainer, "display_name": "LoRA (CPU)", "image": "kubetune/runtime:test",
        "command": [sys.executable, "-m", "kubetune.train.cli"], "tasks": ["causal-lm"], "methods": ["lora"],
        "models": [{"id": "tiny", "name": "Tiny", "uri": f"file://{platform}/models/tiny", "size": "1M"}],
        "resources": {"gpus": 0}})
    assert made.status_code == 201, made.text
    project = (await http.post("/api/v1/projects", json={"name": "journey"}, headers=admin)).json()
    body = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    up = await http.post(f"/api/finetune/upload-dataset?project_id={project['id']}",
                         files={"file": ("chat.jsonl", body)}, headers=admin)
    assert up.status_code == 201, up.text
    datasets = (await http.get(f"/api/v1/datasets?project_id={project['id']}", headers=admin)).json()["datasets"]
    submitted = await http.post("/api/v1/training/submit", headers=admin, json={
        "model_id": "tiny", "dataset_id": datasets[0]["id"], "template_id": trainer, "project_id": project["id"],
        "experiment_name": "journey", "hyperparameters": {"max_steps": 24, "learning_rate": 3e-3, "lora_rank": 8,
                                                          "batch_size": 4, "logging_steps": 1}})
    assert submitted.status_code == 201, submitted.text
    task_id = submitted.json()["id"]
    training = cache.trainings.by_id(task_id)
    assert training is not None and training["spec"]["serve"]["enabled"] is True

    async with StreamReader(app, f"/api/v1/trainings/{training['metadata']['uid']}/events/stream", admin) as sse:
        reasons, steps, end = [], [], None
        async with asyncio.timeout(600):
            async for frame in sse.frames():
                if frame.startswith(":"):
                    continue
                data = json.loads(frame.split("data: ", 1)[1])
                if "event: progress" in frame:  # one per step the trainer reports
                    steps.append(data["step"])
                elif "event: end" in frame:  # the stream's last frame
                    end = data
                    break
                else:
                    reasons.append(data["reason"])
    assert end is not None and end["phase"] == "Succeeded", (reasons, cache.trainings.by_id(task_id)["status"])
    assert reasons[-1] == "Succeeded" and "Running" in reasons
    assert steps == sorted(steps) and steps[-1] == 24 and len(steps) >= 2  # in order, up to max_steps
    tasks = (await http.get("/api/v1/tasks", headers=admin)).json()["tasks"]
    assert any(t["id"] == task_id and t["status"] == "completed" for t in tasks)
    curve = (await http.get(f"/api/v1/metrics/loss?experiment_id={task_id}", headers=admin)).json()
    losses = [p["loss"] for p in curve["data"] if p["loss"] is not None]
    assert len(losses) >= 2 and losses[-1] < losses[0], curve
    # The trainer pod's own output: pods/log through the API server and the node's kubelet API, as on a real cluster.
    log = await http.get(f"/api/v1/trainings/{training['metadata']['uid']}/logs?tail=3", headers=admin)
    assert log.status_code == 200 and "done: " in log.text.splitlines()[-1], (log.status_code, log.text)

    isvc = await wait_for(cache, INFERENCE_SERVICES, lambda o: (o.get("status") or {}).get("phase") == "Ready"
                          and o["metadata"]["namespace"] == project["namespace"], seconds=600)
    models = (await http.get("/api/v1/inference/models", headers=admin)).json()["models"]
    model_id = f"{project['key']}/{isvc['metadata']['name']}"
    assert any(m["id"] == model_id and m["status"] == "ready" for m in models), models
    answer = await http.post("/api/v1/inference/generate", headers=admin, json={
        "model_id": model_id, "prompt": "What is 3 plus 3?", "max_tokens": 8})
    assert answer.status_code == 200, answer.text
    print(f"journey: SSE reasons {reasons}; loss {losses[0]:.3f} -> {losses[-1]:.3f}; "
          f"served {model_id}: {answer.json()['output']!r}")
    assert answer.json()["usage"]["completion_tokens"] >= 1 and answer.json()["model"] == model_id
    assert TRAININGS.plural == "trainings"

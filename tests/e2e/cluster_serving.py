"""Helpers for the autoscaling tests on a real cluster: a tiny model in a project's store, an autoscaled
InferenceService serving it (kubectl apply, as a user writes it), and generation load through the facade."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx
from cluster_target import ClusterTarget, run_store_job
from kube_waits import wait_for
from kubernetes import client

from kubetune.crd import GROUP, VERSION

Obj = dict[str, Any]


def write_project_model(target: ClusterTarget, api: client.ApiClient, project: str) -> str:
    """The tiny Llama-style model in the project's own prefix of the store; its file:// uri."""
    path = f"{target.artifact_mount}/{project}/models/tiny"
    script = f"from kubetune.testing.tiny import make_tiny_causal_lm; make_tiny_causal_lm({path!r})"
    run_store_job(target, api, "e2e-model", script, env={"HF_HUB_OFFLINE": "1"})
    return f"file://{path}"


def serve_autoscaled(api: client.ApiClient, project: str, name: str, model_uri: str, autoscaling: Obj) -> Obj:
    """An InferenceService with `autoscaling`, once Ready. A 100m CPU request, so that one busy server is far
    above a CPU target; no result cache, so that every request reaches the model."""
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(GROUP, VERSION, project, "inferenceservices", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService",
        "metadata": {"name": name, "labels": {"kubetune.io/project": project}},
        "spec": {"task": "causal-lm", "model": {"baseModel": model_uri},
                 "resources": {"gpus": 0, "cpu": "100m", "memory": "1Gi"},
                 "limits": {"maxConcurrent": 4, "queueSize": 16, "timeoutSeconds": 60},
                 "cache": {"enabled": False},
                 "autoscaling": autoscaling},
    })
    return wait_for(custom.list_namespaced_custom_object, lambda o: (o.get("status") or {}).get("phase") == "Ready",
                    GROUP, VERSION, project, "inferenceservices", field_selector=f"metadata.name={name}",
                    timeout=600)


def wait_ready_replicas(api: client.ApiClient, project: str, name: str, count: int) -> Obj:
    return wait_for(client.CustomObjectsApi(api).list_namespaced_custom_object,
                    lambda o: (o.get("status") or {}).get("readyReplicas") == count,
                    GROUP, VERSION, project, "inferenceservices", field_selector=f"metadata.name={name}",
                    timeout=600)


def wait_deployment_replicas(api: client.ApiClient, project: str, name: str, count: int, timeout: int = 300) -> Obj:
    return wait_for(client.AppsV1Api(api).list_namespaced_deployment, lambda d: d["spec"].get("replicas") == count,
                    project, field_selector=f"metadata.name={name}-server", timeout=timeout)


def _generate_until(stop: threading.Event, http: httpx.Client, model_id: str, answers: list[int]) -> None:
    while not stop.is_set():
        # A new prompt each time: no cache anywhere can answer for the model.
        response = http.post("/api/v1/inference/generate", json={
            "model_id": model_id, "prompt": f"Count with me: {len(answers)} {threading.get_ident()}",
            "max_tokens": 64, "temperature": 0})
        answers.append(response.status_code)


@contextlib.contextmanager
def generation_load(target: ClusterTarget, name: str, clients: int = 4) -> Iterator[list[int]]:
    """`clients` threads generating through the facade's seed-003 route, as admin, until the block ends;
    yields the status codes of the answers so far."""
    headers = {"Authorization": f"Bearer {target.admin_token()}"}
    # A connection per request: a kept-alive one closed by either end while the other writes is reset, and a
    # reset ends `kubectl port-forward` (hack/cluster/e2e.sh starts it again, but the request is lost).
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=target.api_url, headers=headers, timeout=120, limits=no_keepalive) as http:
        models = http.get("/api/v1/inference/models").json()["models"]
        ours = [m["id"] for m in models if m["id"].endswith(f"/{name}") and m["status"] == "ready"]
        assert ours, models
        stop, answers = threading.Event(), list[int]()
        threads = [threading.Thread(target=_generate_until, args=(stop, http, ours[0], answers), daemon=True)
                   for _ in range(clients)]
        for thread in threads:
            thread.start()
        try:
            yield answers
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=180)

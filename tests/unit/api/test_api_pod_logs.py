"""GET /api/v1/trainings/{id}/logs and /api/v1/projects/{p}/inference-services/{name}/logs on the fake cluster:
which pod, node and container attempt is read, the query passed on, and who may read."""

from __future__ import annotations

from typing import Any

import pytest
from api_env import Env

from kubetune.api import podlogs
from kubetune.api.cluster import PODS
from kubetune.api.core.errors import ApiError
from kubetune.crd.labels import INFERENCE_SERVICE, training_job_name

pytestmark = pytest.mark.unit


async def _training(env: Env, chat_jsonl: bytes) -> dict[str, Any]:
    up = await env.client.post("/api/finetune/upload-dataset", files={"file": ("d.jsonl", chat_jsonl)},
                               headers=env.auth("alice"))
    assert up.status_code == 201, up.text
    body = {"name": "run", "base_model": "llama2-7b", "dataset_path": up.json()["path"]}
    resp = await env.client.post("/api/v1/trainings", json=body, headers=env.auth("alice"))
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def _pod(env: Env, ns: str, name: str, labels: dict[str, str], created: str) -> None:
    await env.fake.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": ns, "labels": labels, "creationTimestamp": created},
        "spec": {"containers": [{"name": "trainer", "image": "x"}, {"name": "sidecar", "image": "y"}]}}, ns)


async def test_training_logs_pick_the_node_the_newest_pod_and_the_previous_attempt(env: Env,
                                                                                   chat_jsonl: bytes) -> None:
    t = await _training(env, chat_jsonl)
    ns = env.projects["alice"]["namespace"]
    job = training_job_name(t["resource_name"])
    await _pod(env, ns, "a-old-0", {"job-name": job, "batch.kubernetes.io/job-completion-index": "0"},
               "2026-01-01T00:00:00Z")
    await _pod(env, ns, "b-new-0", {"job-name": job, "batch.kubernetes.io/job-completion-index": "0"},
               "2026-01-01T01:00:00Z")
    await _pod(env, ns, "b-new-1", {"job-name": job, "batch.kubernetes.io/job-completion-index": "1"},
               "2026-01-01T01:00:00Z")
    await _pod(env, ns, "other", {"job-name": "someone-else-train"}, "2026-01-02T00:00:00Z")
    env.fake.pod_logs[(ns, "b-new-0", False)] = "step 1\nstep 2\nstep 3\n"
    env.fake.pod_logs[(ns, "b-new-0", True)] = "crashed at step 1\n"
    env.fake.pod_logs[(ns, "b-new-1", False)] = "rank 1 here\n"
    url = f"/api/v1/trainings/{t['id']}/logs"

    resp = await env.client.get(url, headers=env.auth("alice"))
    assert resp.status_code == 200 and resp.text == "step 1\nstep 2\nstep 3\n", resp.text
    assert resp.headers["x-kubetune-pod"] == "b-new-0"
    _, _, options = env.fake.log_requests[-1]
    assert options.container == "trainer" and not options.follow and not options.previous
    assert ("get", "pods", "kubetune:user:alice") in env.fake.impersonated  # read as the caller, not the facade

    tail = await env.client.get(url, params={"tail": 1, "follow": True}, headers=env.auth("alice"))
    assert tail.text == "step 3\n" and env.fake.log_requests[-1][2].follow
    assert (await env.client.get(url, params={"previous": True}, headers=env.auth("alice"))).text == \
        "crashed at step 1\n"
    node1 = await env.client.get(url, params={"node": 1}, headers=env.auth("alice"))
    assert node1.text == "rank 1 here\n" and node1.headers["x-kubetune-pod"] == "b-new-1"
    assert (await env.client.get(url, params={"pod": "a-old-0"}, headers=env.auth("alice"))).status_code == 400


def test_pick_pod_takes_the_newest_of_the_node() -> None:
    def pod(name: str, index: str, created: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": created,
                             "labels": {"batch.kubernetes.io/job-completion-index": index}}}

    pods = [pod("z-old", "0", "2026-01-01T00:00:00Z"), pod("a-new", "0", "2026-01-01T00:05:00Z"),
            pod("m-one", "1", "2026-01-01T00:09:00Z")]
    assert podlogs.pick_pod(pods)["metadata"]["name"] == "a-new"
    assert podlogs.pick_pod(pods, node=1)["metadata"]["name"] == "m-one"
    assert podlogs.pick_pod(pods, name="z-old")["metadata"]["name"] == "z-old"
    with pytest.raises(ApiError) as info:
        podlogs.pick_pod(pods, node=2)
    assert info.value.status == 404


async def test_training_logs_errors(env: Env, chat_jsonl: bytes) -> None:
    t = await _training(env, chat_jsonl)
    url = f"/api/v1/trainings/{t['id']}/logs"
    no_pod = await env.client.get(url, headers=env.auth("alice"))
    assert no_pod.status_code == 404 and "has not started" in no_pod.text
    assert (await env.client.get(url, headers=env.auth("bob"))).status_code in (403, 404)
    assert (await env.client.get(url, params={"tail": -1}, headers=env.auth("alice"))).status_code == 422
    assert (await env.client.get("/api/v1/trainings/nope/logs", headers=env.auth("alice"))).status_code == 404


async def test_inference_service_logs_read_its_server_pod(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    key = env.projects["alice"]["key"]
    made = await env.client.post(f"/api/v1/projects/{key}/inference-services", headers=env.auth("alice"),
                                 json={"name": "chat", "base_model": "hf://x/y"})
    assert made.status_code == 201, made.text
    await _pod(env, ns, "chat-abc", {INFERENCE_SERVICE: "chat"}, "2026-01-01T00:00:00Z")
    env.fake.pod_logs[(ns, "chat-abc", False)] = "serving on :8080\n"
    url = f"/api/v1/projects/{key}/inference-services/chat/logs"
    resp = await env.client.get(url, headers=env.auth("alice"))
    assert resp.status_code == 200 and resp.text == "serving on :8080\n"
    assert (await env.client.get(f"/api/v1/projects/{key}/inference-services/none/logs",
                                 headers=env.auth("alice"))).status_code == 404

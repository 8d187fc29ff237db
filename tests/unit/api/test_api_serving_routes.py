"""The facade's serving routes: a project's InferenceServices listed, created (base model or Training),
scaled, suspended, resumed and deleted; those made with kubectl are listed and managed too."""

from __future__ import annotations

import pytest
from api_env import Env

from kubetune.api.cluster import INFERENCE_SERVICES, TRAININGS

pytestmark = pytest.mark.unit


def _base(env: Env, user: str = "alice") -> str:
    return f"/api/v1/projects/{env.projects[user]['id']}/inference-services"


async def _created(env: Env, body: dict[str, object]) -> dict[str, object]:
    resp = await env.client.post(_base(env), json=body, headers=env.auth("alice"))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_create_from_a_catalog_model_then_scale_suspend_resume_delete(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    made = await _created(env, {"name": "chat", "base_model": "llama2-7b", "adapters": {"tone": "hf://org/tone"}})
    assert made["base_model"] == "hf://meta-llama/Llama-2-7b-chat-hf"  # the catalog id resolved to its uri
    assert made["adapters"] == {"tone": "hf://org/tone"}
    assert made["managed_by"] == "platform"
    key = env.projects["alice"]["key"]
    assert made["openai_base_url"] == f"/api/v1/inference-services/{key}.chat/v1"
    stored = env.fake.objects(INFERENCE_SERVICES)[0]
    assert stored["metadata"]["namespace"] == ns
    assert stored["spec"]["model"]["adapters"] == [{"name": "tone", "uri": "hf://org/tone"}]
    # Written as alice (impersonated), so Kubernetes RBAC decided.
    assert ("create", "inferenceservices", "kubetune:user:alice") in env.fake.impersonated

    scaled = await env.client.post(f"{_base(env)}/chat/scale", json={"replicas": 3}, headers=env.auth("alice"))
    assert scaled.status_code == 200 and scaled.json()["replicas"] == 3
    suspended = await env.client.post(f"{_base(env)}/chat/suspend", headers=env.auth("alice"))
    assert suspended.json()["suspended"] is True
    resumed = await env.client.post(f"{_base(env)}/chat/resume", headers=env.auth("alice"))
    assert resumed.json()["suspended"] is False
    deleted = await env.client.delete(f"{_base(env)}/chat", headers=env.auth("alice"))
    assert deleted.status_code == 204
    assert env.fake.objects(INFERENCE_SERVICES) == []
    listed = await env.client.get(_base(env), headers=env.auth("alice"))
    assert listed.json() == {"items": [], "total": 0}


async def test_autoscaling_bounds_are_scaled_through_the_resources_own_rules(env: Env) -> None:
    await _created(env, {"name": "auto", "base_model": "hf://org/m",
                         "autoscaling": {"max_replicas": 4, "scale_to_zero": True, "idle_seconds": 60}})
    stored = env.fake.objects(INFERENCE_SERVICES)[0]["spec"]["autoscaling"]
    assert stored == {"minReplicas": 1, "maxReplicas": 4, "targetCpuUtilization": 80, "scaleToZero": True,
                      "idleSeconds": 60}  # the resource's defaults, written out
    fixed = await env.client.post(f"{_base(env)}/auto/scale", json={"replicas": 2}, headers=env.auth("alice"))
    assert fixed.status_code == 409 and "autoscales" in fixed.json()["detail"]
    crossed = await env.client.post(f"{_base(env)}/auto/scale", json={"min_replicas": 5},
                                    headers=env.auth("alice"))
    assert crossed.status_code == 422 and "minReplicas must not exceed maxReplicas" in crossed.json()["detail"]
    bounds = await env.client.post(f"{_base(env)}/auto/scale", json={"min_replicas": 2, "max_replicas": 6},
                                   headers=env.auth("alice"))
    assert bounds.status_code == 200
    assert bounds.json()["autoscaling"]["minReplicas"] == 2 and bounds.json()["autoscaling"]["scaleToZero"]


async def test_create_from_a_training_by_name_or_id(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": "tuned"},
            "spec": {"trainerRef": "lora", "baseModel": "llama2-7b", "dataset": {"uri": "s3://b/d.jsonl"}}}
    await env.changed(TRAININGS, lambda: env.fake.create(TRAININGS, body, ns),
                      lambda c: c.object["metadata"]["name"] == "tuned")
    made = await _created(env, {"name": "served", "training": "tuned"})
    assert made["training"] == "tuned" and made["base_model"] is None
    missing = await env.client.post(_base(env), json={"name": "x", "training": "nope"}, headers=env.auth("alice"))
    assert missing.status_code == 404 and "training 'nope' not found" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "Bad_Name", "base_model": "hf://o/m"}, 422, "name"),
        ({"name": "both", "base_model": "hf://o/m", "training": "t"}, 422, "exactly one"),
        ({"name": "none"}, 422, "exactly one"),
        ({"name": "cat", "base_model": "no-such-model"}, 404, "neither a uri nor a catalog"),
        ({"name": "rules", "base_model": "hf://o/m", "autoscaling": {"target_concurrency": 1,
                                                                     "target_queue_depth": 1}}, 422, "at most one"),
        ({"name": "extra", "base_model": "hf://o/m", "colour": "red"}, 422, "colour"),
    ],
)
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(env: Env, body: dict[str, object], status: int,
                                                           words: str) -> None:
    resp = await env.client.post(_base(env), json=body, headers=env.auth("alice"))
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"]
    assert env.fake.objects(INFERENCE_SERVICES) == []


async def test_services_made_with_kubectl_are_listed_and_managed(env: Env) -> None:
    ns = env.projects["alice"]["namespace"]
    body = {"apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "by-hand"},
            "spec": {"model": {"baseModel": "hf://org/model"}, "replicas": 1}}
    await env.changed(INFERENCE_SERVICES, lambda: env.fake.create(INFERENCE_SERVICES, body, ns), lambda c: True)
    listed = (await env.client.get(_base(env), headers=env.auth("alice"))).json()
    assert [(i["name"], i["managed_by"]) for i in listed["items"]] == [("by-hand", "kubernetes")]
    scaled = await env.client.post(f"{_base(env)}/by-hand/scale", json={"replicas": 0}, headers=env.auth("alice"))
    assert scaled.json()["replicas"] == 0


async def test_other_projects_are_out_of_reach(env: Env) -> None:
    await _created(env, {"name": "chat", "base_model": "hf://org/m"})
    peek = await env.client.get(_base(env), headers=env.auth("bob"))
    assert peek.status_code in (403, 404)
    delete = await env.client.delete(f"{_base(env)}/chat", headers=env.auth("bob"))
    assert delete.status_code in (403, 404)
    assert len(env.fake.objects(INFERENCE_SERVICES)) == 1

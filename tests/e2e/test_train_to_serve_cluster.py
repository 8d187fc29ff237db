"""The train-to-serve flow against a real cluster with the chart installed (`make e2e-kind`).

The same REST journey as test_train_to_serve.py (kubetune.localdev.demo.rest_flow) and the same
checks, on the chart's own default `lora` Trainer, real kubelets and the images built by
`make images-dev`. Collected only when KUBETUNE_E2E_KUBECONFIG names the cluster (conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_resilience import create_training, project_with_dataset, wait_training
from cluster_target import (
    HYPERPARAMETERS,
    MODEL_ID,
    ClusterTarget,
    release_artifact_claim,
    write_tiny_model,
)
from kubernetes import client
from train_to_serve_checks import assert_trained_and_served, delete_project

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.demo import rest_flow

pytestmark = pytest.mark.e2e


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def test_chart_default_trainers_are_ready(api: client.ApiClient) -> None:
    trainers = client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, "trainers")["items"]
    by_name = {t["metadata"]["name"]: t for t in trainers}
    assert {"lora", "qlora", "full"} <= set(by_name)
    assert all(_ready(by_name[name]) for name in ("lora", "qlora", "full")), [t.get("status") for t in trainers]
    assert MODEL_ID in {m["id"] for m in by_name["lora"]["spec"]["models"]}


def test_dataset_to_served_model(target: ClusterTarget, api: client.ApiClient, tmp_path: Path) -> None:
    write_tiny_model(target, api)
    projects: list[dict[str, Any]] = []

    def on_project(project: dict[str, Any]) -> None:
        projects.append(project)  # the operator gives its namespace the artifact claim

    try:
        seen = rest_flow(target.api_url, target.admin_token(), tmp_path, template_id="lora", model_id=MODEL_ID,
                         on_project=on_project, hyperparameters=HYPERPARAMETERS)
        isvc = assert_trained_and_served(seen, api)
        assert isvc["status"]["readyReplicas"] >= 1

        # Deleting the project deletes its namespace and, through garbage collection, everything.
        delete_project(target.api_url, target.admin_token(), seen, api)
        ns = seen["project"]["namespace"]
        left = client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
        assert left == [], [p.metadata.name for p in left]
    finally:
        # A failed run must not leave its project behind on a kept cluster (the next run's
        # "demo" project would conflict); deleting an already deleted one answers 404.
        for project in projects:
            httpx.delete(f"{target.api_url}/api/v1/projects/{project['id']}",
                         headers={"Authorization": f"Bearer {target.admin_token()}"}, timeout=60)
            release_artifact_claim(target, api, project["namespace"])


def test_training_survives_its_operator_and_its_pod_being_deleted(target: ClusterTarget,
                                                                  api: client.ApiClient) -> None:
    """Deleting the operator pod mid-training loses nothing, and deleting the training pod makes the
    Job start another that resumes from the last checkpoint (the trainer's Resumed event)."""
    write_tiny_model(target, api)
    core = client.CoreV1Api(api)
    with project_with_dataset(target, api, "e2e-resilience") as (project, dataset):
        create_training(api, project, "resilient", {
            "trainerRef": "lora", "task": "causal-lm", "method": "lora", "baseModel": MODEL_ID,
            "dataset": {"uri": dataset, "format": "openai_chat_jsonl"},
            # 2,000 steps of batch size 1: about a minute on a quiet 2-core machine, so both pods go
            # while it runs (800 steps took 22 s, and the trainer was deleted after it had finished).
            "hyperparameters": {"maxSeqLength": 256, "epochs": 100, "batchSize": 1, "maxSteps": 2000,
                                "saveSteps": 20},
            "backoffLimit": 3,
        })

        def step(obj: dict[str, Any]) -> int:
            return int(((obj.get("status") or {}).get("progress") or {}).get("step") or 0)

        # As soon as a checkpoint exists, take away the operator and the trainer pod together.
        running = wait_training(api, project, "resilient", lambda o: step(o) >= 25)
        operators = core.list_namespaced_pod(target.namespace,
                                             label_selector="app.kubernetes.io/component=operator").items
        trainer_pods = core.list_namespaced_pod(project, label_selector="kubetune.io/training=resilient").items
        assert len(trainer_pods) == 1 and trainer_pods[0].status.phase == "Running", trainer_pods
        for pod in operators:
            core.delete_namespaced_pod(pod.metadata.name, target.namespace)
        core.delete_namespaced_pod(trainer_pods[0].metadata.name, project)
        before = step(running)
        done = wait_training(api, project, "resilient",
                             lambda o: (o.get("status") or {}).get("phase") == "Succeeded", timeout=900)
        assert step(done) > before
        # The Job made a second pod for the deleted one (read from the Job controller's Events: a finished
        # Job's pods may already be gone), and that pod resumed from a checkpoint rather than from step 0.
        job = (done.get("status") or {}).get("jobName")
        job_events = core.list_namespaced_event(project, field_selector=f"involvedObject.name={job}").items
        created = {e.message.removeprefix("Created pod: ") for e in job_events if e.reason == "SuccessfulCreate"}
        assert trainer_pods[0].metadata.name in created and len(created) >= 2, created
        events = core.list_namespaced_event(project, field_selector="involvedObject.name=resilient").items
        resumed = [e.message for e in events if e.reason == "Resumed"]
        assert resumed and resumed[0].startswith("from step"), [(e.reason, e.message) for e in events]
        new_operators = core.list_namespaced_pod(target.namespace,
                                                 label_selector="app.kubernetes.io/component=operator").items
        assert {p.metadata.name for p in new_operators}.isdisjoint({p.metadata.name for p in operators})

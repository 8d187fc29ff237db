"""The train-to-serve flow against a real cluster with the chart installed (`make e2e-kind`).

The same REST journey as test_train_to_serve.py (kubetune.localdev.demo.rest_flow) and the same
checks, on the chart's own default `lora` Trainer, real kubelets and the images built by
`make images-dev`. Collected only when KUBETUNE_E2E_KUBECONFIG names the cluster (conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
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


@pytest.fixture(scope="module")
def target() -> ClusterTarget:
    return ClusterTarget.from_env()


@pytest.fixture(scope="module")
def api(target: ClusterTarget) -> Iterator[client.ApiClient]:
    with target.api_client() as api_client:
        yield api_client


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

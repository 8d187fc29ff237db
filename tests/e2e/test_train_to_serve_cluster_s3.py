"""The train-to-serve flow on the real cluster with the chart in S3 mode (`make e2e-cluster`, after the PVC mode).

The artifact store is moto's S3 server running as a pod in the cluster (hack/cluster/s3/): the api
writes the uploaded dataset to the bucket, the trainer pod reads its base model and dataset from it and
uploads its checkpoints and adapter there, the server pod loads them back, and deleting the project
removes its objects under <bucket>/<prefix>/<namespace>/ (the operator's cleanup), leaving the catalog
model and other prefixes alone. Collected only when KUBETUNE_E2E_STORAGE=s3 (conftest.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_s3 import S3Target
from cluster_target import HYPERPARAMETERS, MODEL_ID, ClusterTarget
from kubernetes import client
from train_to_serve_checks import assert_trained_and_served, delete_project

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.demo import rest_flow
from kubetune.testing.tiny import make_tiny_causal_lm

pytestmark = pytest.mark.e2e

MODEL_KEY = f"models/{MODEL_ID}"  # hack/cluster/s3/values.yaml's catalog uri, outside the project prefix


@pytest.fixture(scope="module")
def s3() -> S3Target:
    return S3Target.from_env()


@pytest.fixture(scope="module")
def catalog_model(s3: S3Target, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny model in the bucket where the catalog says (written here, uploaded through the port-forward)."""
    local = make_tiny_causal_lm(tmp_path_factory.mktemp("model") / MODEL_ID)
    s3.upload_dir(local, MODEL_KEY)
    assert f"{MODEL_KEY}/config.json" in s3.keys(MODEL_KEY)
    return f"s3://{s3.bucket}/{MODEL_KEY}"


def test_chart_runs_in_s3_mode(api: client.ApiClient, target: ClusterTarget, s3: S3Target,
                               catalog_model: str) -> None:
    """The api and the operator got the store settings and the credentials Secret, and mount no claim."""
    apps = client.AppsV1Api(api)
    for component in ("api", "operator"):
        deployment = apps.list_namespaced_deployment(
            target.namespace, label_selector=f"app.kubernetes.io/component={component}").items[0]
        pod = deployment.spec.template.spec
        env = {e.name: e for c in pod.containers for e in (c.env or [])}
        assert {v.persistent_volume_claim.claim_name for v in pod.volumes or [] if v.persistent_volume_claim} == set()
        if component == "api":
            assert env["AWS_ENDPOINT_URL"].value == "http://s3.kubetune-s3.svc.cluster.local:5000"
            assert env["AWS_ACCESS_KEY_ID"].value_from.secret_key_ref.name.endswith("-s3")
    trainers = client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, "trainers")["items"]
    lora = next(t for t in trainers if t["metadata"]["name"] == "lora")
    assert {m["id"]: m["uri"] for m in lora["spec"]["models"]}[MODEL_ID] == catalog_model


def test_dataset_to_served_model_on_s3(target: ClusterTarget, api: client.ApiClient, s3: S3Target,
                                       catalog_model: str, tmp_path: Path) -> None:
    projects: list[dict[str, Any]] = []
    # Another project's objects in the same bucket: the cleanup of this one must leave them.
    neighbour = f"{s3.prefix}/e2e-neighbour-{uuid.uuid4().hex[:6]}/keep.txt"
    s3.fs().pipe_file(f"{s3.bucket}/{neighbour}", b"not this project's")
    try:
        seen = rest_flow(target.api_url, target.admin_token(), tmp_path, template_id="lora", model_id=MODEL_ID,
                         on_project=projects.append, hyperparameters=HYPERPARAMETERS)
        isvc = assert_trained_and_served(seen, api)
        assert isvc["status"]["readyReplicas"] >= 1
        ns = seen["project"]["namespace"]

        # Everything the project made went to the bucket: the upload (through the api), the
        # Training's output (the trainer pod), all under the project's prefix.
        keys = s3.project_keys(ns)
        training = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, ns, "trainings", seen["training"]["resource_name"])
        output = (training.get("status") or {}).get("output") or ""
        assert output.startswith(f"s3://{s3.bucket}/{s3.prefix}/{ns}/"), training.get("status")
        assert any(k.endswith(".jsonl") for k in keys), keys
        assert any(k.endswith("adapter_config.json") for k in keys), keys

        # Deleting the project deletes its namespace and its prefix of the bucket, nothing else.
        delete_project(target.api_url, target.admin_token(), seen, api)
        assert s3.project_keys(ns) == []
        assert neighbour in s3.keys(neighbour.rsplit("/", 1)[0])
        assert f"{MODEL_KEY}/config.json" in s3.keys(MODEL_KEY)
    finally:
        for project in projects:
            httpx.delete(f"{target.api_url}/api/v1/projects/{project['id']}",
                         headers={"Authorization": f"Bearer {target.admin_token()}"}, timeout=60)
        s3.fs().rm(f"{s3.bucket}/{neighbour}")

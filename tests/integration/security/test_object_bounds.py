"""The CRD schema bounds what a kubectl user or a pod may write into a Training: no status of 1 MB.

Run on the real API server, which enforces maxProperties, maxItems, maxLength and the CEL rule on
metric names from the generated schema (kubetune.crd.bounds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from kubetune.crd import GROUP, VERSION
from kubetune.crd.bounds import MAX_METRIC_NAME, MAX_METRICS

pytestmark = pytest.mark.integration


@pytest.fixture
def training(api_client: client.ApiClient, namespace: str) -> Iterator[str]:
    custom = client.CustomObjectsApi(api_client)
    name = f"bounded-{uuid.uuid4().hex[:6]}"
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Training", "metadata": {"name": name},
        "spec": {"trainerRef": "lora", "baseModel": "tiny",
                 "dataset": {"uri": f"file:///var/lib/kubetune/artifacts/{namespace}/d.jsonl"}}})
    yield name


def _patch_status(api_client: client.ApiClient, namespace: str, name: str, status: dict[str, object]) -> int:
    custom = client.CustomObjectsApi(api_client)
    try:
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, "trainings", name,
                                                     {"status": status})
    except ApiException as exc:
        return int(exc.status)
    return 200


def test_status_metrics_are_bounded_by_the_schema(api_client: client.ApiClient, namespace: str,
                                                  training: str) -> None:
    fitting = {f"m{i}": float(i) for i in range(MAX_METRICS)}
    assert _patch_status(api_client, namespace, training, {"metrics": fitting}) == 200
    too_many = {f"x{i}": 1.0 for i in range(MAX_METRICS + 1)}
    assert _patch_status(api_client, namespace, training, {"metrics": too_many}) == 422
    long_name = {"n" * (MAX_METRIC_NAME + 1): 1.0}
    assert _patch_status(api_client, namespace, training, {"metrics": long_name}) == 422
    # 16 KiB names would have made a Training of 1 MB.
    huge = {f"h{i}-" + "x" * (16 << 10): 1.0 for i in range(MAX_METRICS)}
    assert _patch_status(api_client, namespace, training, {"metrics": huge}) == 422
    history = [{"step": i, "loss": 1.0} for i in range(601)]
    assert _patch_status(api_client, namespace, training, {"history": history}) == 422

    stored = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "trainings", training)
    assert stored["status"]["metrics"] == fitting  # the refused patches wrote nothing

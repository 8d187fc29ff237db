"""What the train-to-serve e2e asserts, on any platform: the embedded one or a real cluster.

Shared by test_train_to_serve.py (embedded platform) and test_train_to_serve_cluster.py (kind
or any cluster with the chart installed); both feed it what kubetune.localdev.demo.rest_flow saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from kubernetes import client, watch

from kubetune.crd import GROUP, VERSION
from kubetune.crd import labels as lbl

TRAINER_FIELDS = {"f:progress", "f:history", "f:summary", "f:output", "f:metrics"}


def can(auth: client.AuthorizationV1Api, user: str, namespace: str, verb: str, resource: str,
        name: str, subresource: str = "", group: str = GROUP) -> bool:
    review = auth.create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                 "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group,
                                        "resource": resource, "subresource": subresource, "name": name}}})
    return bool(review.status.allowed)


def trainer_owned_fields(training: dict[str, Any]) -> set[str]:
    owned: set[str] = set()
    for entry in training["metadata"].get("managedFields", []):
        if entry.get("manager") == "kubetune-train" and entry.get("subresource") == "status":
            owned |= set(entry["fieldsV1"].get("f:status", {}))
    return owned


def assert_trained_and_served(seen: dict[str, Any], api: client.ApiClient) -> dict[str, Any]:
    """The loss fell, the trainer wrote its status under its own restricted account, the
    InferenceService is Ready and answered. Returns the InferenceService."""
    ns = seen["project"]["namespace"]
    name = seen["training"]["resource_name"]

    # The loss fell, on the curve the API serves and in the PNG written from it.
    metrics = seen["curve"]["metrics"]
    assert metrics["final_loss"] < metrics["initial_loss"]
    assert Path(seen["png"]).stat().st_size > 1000
    # The server answered both the seed 002 scorer and seed 003's generate.
    assert 0.0 <= seen["infer"]["score"] <= 1.0
    assert seen["generate"]["usage"]["completion_tokens"] >= 1

    objs = client.CustomObjectsApi(api)
    training = objs.get_namespaced_custom_object(GROUP, VERSION, ns, "trainings", name)
    # The trainer pod wrote its fields, as the field manager "kubetune-train"...
    owned = trainer_owned_fields(training)
    assert owned >= TRAINER_FIELDS, training["metadata"]["managedFields"]
    # ...using the Training's own service account, which may patch only this Training's status.
    job = client.BatchV1Api(api).read_namespaced_job(lbl.training_job_name(name), ns)
    account = job.spec.template.spec.service_account_name
    assert account == lbl.training_service_account_name(name)
    user = f"system:serviceaccount:{ns}:{account}"
    auth = client.AuthorizationV1Api(api)
    assert can(auth, user, ns, "patch", "trainings", name, "status")
    assert not can(auth, user, ns, "patch", "trainings", "another-training", "status")
    assert not can(auth, user, ns, "patch", "trainings", name)  # not the spec
    assert not can(auth, user, ns, "get", "secrets", "", group="")

    isvc: dict[str, Any] = objs.get_namespaced_custom_object(GROUP, VERSION, ns, "inferenceservices",
                                                             seen["model_id"].split("/", 1)[1])
    assert isvc["status"]["phase"] == "Ready"
    return isvc


def delete_project(api_url: str, token: str, seen: dict[str, Any], api: client.ApiClient,
                   timeout: int = 300) -> None:
    """Delete the project through REST; returns once its namespace (and so everything in it) is gone."""
    ns = seen["project"]["namespace"]
    resp = httpx.delete(f"{api_url}/api/v1/projects/{seen['project']['id']}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert resp.status_code in (200, 204), resp.text
    core = client.CoreV1Api(api)
    w = watch.Watch()
    for event in w.stream(core.list_namespace, field_selector=f"metadata.name={ns}", timeout_seconds=timeout):
        if event["type"] == "DELETED":
            w.stop()
            break
    else:
        raise AssertionError(f"namespace {ns} was not deleted")

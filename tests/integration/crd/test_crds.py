"""kubetune's CRDs on the real kube-apiserver: served, documented, validated, with status and columns."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.crd import ALL_KINDS, GROUP, VERSION
from kubetune.localdev.controlplane import ControlPlane

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"


def _example(kind: str) -> dict[str, Any]:
    for path in EXAMPLES.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] == kind:
            return dict(doc)
    raise KeyError(kind)


def _create(api: client.ApiClient, doc: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    objs = client.CustomObjectsApi(api)
    kind = next(k for k in ALL_KINDS if k.kind == doc["kind"])
    doc = copy.deepcopy(doc)
    if kind.scope == "Namespaced":
        assert namespace
        doc["metadata"]["namespace"] = namespace
        result: dict[str, Any] = objs.create_namespaced_custom_object(GROUP, VERSION, namespace, kind.plural, doc)
    else:
        result = objs.create_cluster_custom_object(GROUP, VERSION, kind.plural, doc)
    return result


def test_every_crd_is_served_with_short_names(api_client: client.ApiClient) -> None:
    resources = client.CustomObjectsApi(api_client).get_api_resources(GROUP, VERSION).resources
    served = {r.name: r for r in resources}
    for kind in ALL_KINDS:
        assert kind.plural in served
        assert sorted(served[kind.plural].short_names) == sorted(kind.short_names)
        assert f"{kind.plural}/status" in served
    assert served["trainers"].namespaced is False
    assert served["trainings"].namespaced is True


def test_every_example_applies(api_client: client.ApiClient, namespace: str) -> None:
    objs = client.CustomObjectsApi(api_client)
    trainer = _example("Trainer")
    trainer["metadata"]["name"] = f"lora-{namespace}"
    created = _create(api_client, trainer)
    try:
        assert created["spec"]["parameters"][0]["name"] == "learning_rate"
        for kind in ("Dataset", "Training", "InferenceService"):
            obj = _create(api_client, _example(kind), namespace)
            assert obj["metadata"]["uid"]
    finally:
        objs.delete_cluster_custom_object(GROUP, VERSION, "trainers", trainer["metadata"]["name"])


def test_kubectl_explain_documents_fields(control_plane: ControlPlane) -> None:
    kubectl = control_plane.bin_dir / "kubectl"
    out = subprocess.run(
        [str(kubectl), "--kubeconfig", str(control_plane.kubeconfig), "explain",
         "trainings.spec.hyperparameters.loraRank"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    assert "LoRA rank r." in out
    out = subprocess.run(
        [str(kubectl), "--kubeconfig", str(control_plane.kubeconfig), "explain", "inferenceservices.spec.limits"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    assert "maxConcurrent" in out and "Requests running at once." in out


def _training(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "trainerRef": "lora",
        "baseModel": "file:///models/tiny",
        "dataset": {"uri": "file:///data/train.jsonl", "format": "alpaca"},
    }
    body.update(spec)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Training",
            "metadata": {"name": "bad"}, "spec": body}


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("negative LoRA rank", _training(hyperparameters={"loraRank": -4}), "loraRank"),
    ("unknown method", _training(method="adapters"), "method"),
    ("unknown task", _training(task="translation"), "task"),
    ("malformed uri", _training(baseModel="ftp://models/tiny"), "baseModel"),
    ("learning rate out of range", _training(hyperparameters={"learningRate": 3}), "learningRate"),
    ("both dataset ref and uri",
     _training(dataset={"ref": {"name": "d"}, "uri": "file:///d.jsonl"}), "exactly one of ref or uri"),
    ("more parallel trials than trials",
     _training(hpo={"enabled": True, "maxTrials": 2, "parallelTrials": 4,
                    "parameters": [{"name": "learningRate", "values": [0.1, 0.2]}]}),
     "parallelTrials must not exceed"),
    ("qlora for classification", _training(method="qlora", task="sequence-classification"),
     "qlora is supported for the causal-lm task only"),
    ("hpo range with min above max",
     _training(hpo={"enabled": True, "parameters": [{"name": "learningRate", "min": 1, "max": 0.1}]}),
     "an hpo parameter range needs min <= max"),
    ("serve enabled and into", _training(serve={"enabled": True, "into": {"name": "chat"}}), "set one of them"),
    ("serve into from a full fine-tuning", _training(method="full", serve={"into": {"name": "chat"}}),
     "a full fine-tuning has none"),
]


@pytest.mark.parametrize(("case", "doc", "needle"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_trainings_are_rejected(api_client: client.ApiClient, namespace: str,
                                        case: str, doc: dict[str, Any], needle: str) -> None:
    with pytest.raises(ApiException) as err:
        _create(api_client, doc, namespace)
    assert err.value.status == 422, case
    assert needle in json.loads(err.value.body)["message"]


def test_missing_trainer_ref_is_rejected(api_client: client.ApiClient, namespace: str) -> None:
    doc = _training()
    del doc["spec"]["trainerRef"]
    with pytest.raises(ApiException) as err:
        _create(api_client, doc, namespace)
    assert err.value.status == 422
    assert "spec.trainerRef: Required value" in json.loads(err.value.body)["message"]


def test_inference_service_needs_a_model_or_a_training(api_client: client.ApiClient, namespace: str) -> None:
    doc = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService",
           "metadata": {"name": "empty"}, "spec": {"replicas": 1}}
    with pytest.raises(ApiException) as err:
        _create(api_client, doc, namespace)
    assert "exactly one of model or trainingRef" in json.loads(err.value.body)["message"]


def test_trainer_parameter_bounds_are_checked(api_client: client.ApiClient) -> None:
    doc = _example("Trainer")
    doc["metadata"]["name"] = "bad-bounds"
    doc["spec"]["parameters"] = [{"name": "lr", "type": "float", "minimum": 1, "maximum": 0}]
    with pytest.raises(ApiException) as err:
        _create(api_client, doc)
    assert "minimum must not exceed maximum" in json.loads(err.value.body)["message"]


def _patch_status(api: client.ApiClient, ns: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, "trainings", name, body)
    return result


def test_status_subresource_separates_spec_and_status(api_client: client.ApiClient, namespace: str) -> None:
    objs = client.CustomObjectsApi(api_client)
    doc = _training()
    doc["metadata"]["name"] = "status-check"
    _create(api_client, doc, namespace)

    # Status goes through /status; a spec change sent there is ignored.
    _patch_status(api_client, namespace, "status-check", {
        "status": {"phase": "Running", "progress": {"step": 3, "totalSteps": 10, "percent": 30}},
        "spec": {"trainerRef": "changed"},
    })
    obj = objs.get_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "status-check")
    assert obj["status"]["progress"]["step"] == 3
    assert obj["spec"]["trainerRef"] == "lora"

    # A status change sent to the main resource is ignored.
    objs.patch_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "status-check",
                                        {"status": {"phase": "Failed"}})
    obj = objs.get_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "status-check")
    assert obj["status"]["phase"] == "Running"


def test_a_started_training_without_hyperparameters_takes_status_writes(api_client: client.ApiClient,
                                                                         namespace: str) -> None:
    """The immutability rule must not fail on an absent field: the trainer reports after the start."""
    doc = _training()
    doc["spec"].pop("hyperparameters", None)
    doc["metadata"]["name"] = "no-hyperparameters"
    _create(api_client, doc, namespace)
    _patch_status(api_client, namespace, "no-hyperparameters", {"status": {"startTime": "2026-01-01T00:00:00Z"}})
    _patch_status(api_client, namespace, "no-hyperparameters", {"status": {"phase": "Succeeded"}})
    objs = client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as err:
        objs.patch_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "no-hyperparameters",
                                            {"spec": {"hyperparameters": {"learningRate": 0.003}}})
    assert "immutable once the training has started" in json.loads(err.value.body)["message"]


def test_hyperparameters_are_immutable_once_started(api_client: client.ApiClient, namespace: str) -> None:
    objs = client.CustomObjectsApi(api_client)
    doc = _training(hyperparameters={"learningRate": 0.001})
    doc["metadata"]["name"] = "immutable"
    _create(api_client, doc, namespace)
    # Before it starts, the spec may change.
    objs.patch_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "immutable",
                                        {"spec": {"hyperparameters": {"learningRate": 0.002}}})
    _patch_status(api_client, namespace, "immutable", {"status": {"startTime": "2026-01-01T00:00:00Z"}})
    with pytest.raises(ApiException) as err:
        objs.patch_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "immutable",
                                            {"spec": {"hyperparameters": {"learningRate": 0.003}}})
    assert err.value.status == 422
    assert "immutable once the training has started" in json.loads(err.value.body)["message"]
    # Stopping (suspend) is still allowed after the start.
    objs.patch_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", "immutable",
                                        {"spec": {"suspend": True}})


def test_printer_columns_come_back_in_a_table(api_client: client.ApiClient, control_plane: ControlPlane,
                                              namespace: str) -> None:
    doc = _training()
    doc["metadata"]["name"] = "columns"
    _create(api_client, doc, namespace)
    _patch_status(api_client, namespace, "columns", {
        "status": {"phase": "Running", "progress": {"percent": 42.5, "steps": "17/40", "loss": "0.75", "eta": "3m"},
                   "conditions": [{"type": "Running", "status": "True", "reason": "Running", "message": "",
                                   "lastTransitionTime": "2026-12-05T00:00:00Z"}]}})
    status, body = control_plane.request(
        f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/trainings",
        headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"},
    )
    assert status == 200
    table = json.loads(body)
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:8] == ["Name", "Phase", "Progress", "Steps", "Loss", "ETA", "Reason", "Trainer"]
    row = next(r for r in table["rows"] if r["cells"][0] == "columns")
    assert row["cells"][1:8] == ["Running", 42.5, "17/40", "0.75", "3m", "Running", "lora"]

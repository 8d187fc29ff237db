"""kopf's records in status.kopf: the same essence as kopf's own storage builds, and the old annotation still read."""

from __future__ import annotations

import copy
import json
from typing import Any

import kopf
import pytest

from kubetune.operator.bookkeeping import StatusDiffBase, slim_body

pytestmark = pytest.mark.unit
PREFIX = "operator.kubetune.io"


def _training() -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Training",
        "metadata": {
            "name": "t", "namespace": "ns", "uid": "u-1", "resourceVersion": "42", "generation": 3,
            "labels": {"team": "nlp"},
            "annotations": {
                "note": "keep me",
                f"{PREFIX}/last-handled-configuration": '{"spec": {"method": "lora"}}',
                f"{PREFIX}/kopf-managed": "yes",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
            "finalizers": ["example.com/f"],
            "ownerReferences": [{"kind": "Training", "name": "parent", "uid": "p", "apiVersion": "v"}],
            "managedFields": [{"manager": "kubetune-operator", "fieldsV1": {"f:status": {"f:phase": {}}}}] * 20,
        },
        "spec": {"method": "lora", "hyperparameters": {"learningRate": 0.001, "epochs": 2}, "suspend": False},
        "status": {"phase": "Running", "progress": {"step": 7}, "history": [{"step": i} for i in range(100)],
                   "kopf": {"last-handled-configuration": '{"spec":{"method":"full"}}', "progress": {}}},
    }


@pytest.mark.parametrize(
    "extra_fields", [None, ["status.phase"], ["status.kopf"], ["metadata.finalizers"], ["spec.suspend"]])
def test_same_essence_as_kopf(extra_fields: list[str] | None) -> None:
    stock = kopf.StatusDiffBaseStorage(name="kopf")
    lean = StatusDiffBase()
    body = kopf.Body(_training())
    expected = stock.build(body=body, extra_fields=extra_fields)
    assert lean.build(body=body, extra_fields=extra_fields) == expected
    assert "note" in expected["metadata"]["annotations"]  # the comparison covers annotations


def test_the_slim_body_leaves_out_status_and_managed_fields_and_the_original_alone() -> None:
    raw = _training()
    before = copy.deepcopy(raw)
    slim = slim_body(kopf.Body(raw))
    assert "status" not in slim and "managedFields" not in slim["metadata"]
    assert slim["metadata"]["labels"] == {"team": "nlp"}
    assert raw == before
    assert "status" in slim_body(kopf.Body(raw), ["status.phase"])


def test_the_essence_is_a_copy() -> None:
    lean = StatusDiffBase()
    raw = _training()
    essence = lean.build(body=kopf.Body(raw))
    raw["spec"]["hyperparameters"]["epochs"] = 9
    assert essence["spec"]["hyperparameters"]["epochs"] == 2


def test_the_record_is_read_from_status_first_then_from_the_old_annotation() -> None:
    storage = StatusDiffBase()
    raw = _training()
    assert storage.fetch(body=kopf.Body(raw)) == {"spec": {"method": "full"}}
    del raw["status"]["kopf"]
    assert storage.fetch(body=kopf.Body(raw)) == {"spec": {"method": "lora"}}  # written by an earlier release
    del raw["metadata"]["annotations"][f"{PREFIX}/last-handled-configuration"]
    assert storage.fetch(body=kopf.Body(raw)) is None  # never handled: kopf sees a new object


def test_the_record_goes_into_the_status_patch() -> None:
    storage = StatusDiffBase()
    patch = kopf.Patch()
    essence = storage.build(body=kopf.Body(_training()))
    storage.store(body=kopf.Body(_training()), patch=patch, essence=essence)
    assert set(patch) == {"status"}  # nothing for the main resource: one PATCH of /status
    assert json.loads(patch["status"]["kopf"]["last-handled-configuration"]) == essence

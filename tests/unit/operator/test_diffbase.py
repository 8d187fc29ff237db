"""The lean diff base gives exactly kopf's essence, for the stanzas kopf drops and those it keeps."""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest

from kubetune.operator.diffbase import LeanAnnotationsDiffBaseStorage, slim_body

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
        "status": {"phase": "Running", "progress": {"step": 7}, "history": [{"step": i} for i in range(100)]},
    }


@pytest.mark.parametrize("extra_fields", [None, ["status.phase"], ["metadata.finalizers"], ["spec.suspend"]])
def test_same_essence_as_kopf(extra_fields: list[str] | None) -> None:
    stock = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX, key="last-handled-configuration")
    lean = LeanAnnotationsDiffBaseStorage(prefix=PREFIX, key="last-handled-configuration")
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
    lean = LeanAnnotationsDiffBaseStorage(prefix=PREFIX, key="last-handled-configuration")
    raw = _training()
    essence = lean.build(body=kopf.Body(raw))
    raw["spec"]["hyperparameters"]["epochs"] = 9
    assert essence["spec"]["hyperparameters"]["epochs"] == 2

"""Spec values copied into a child object follow Kubernetes' rules in the models and in the CRD schema.

An invalid gpu_type once left a Training pending forever (the Job's node selector was refused);
the same value must now be refused when the Training is written, by pydantic and by the API server
(the generated schema carries the same pattern; the integration test applies it for real).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from kubetune.crd.base import Resources, Toleration
from kubetune.crd.crd_yaml import crd_for
from kubetune.crd.kinds import INFERENCE_SERVICE, TRAINER, TRAINING
from kubetune.crd.trainer import TrainerResources, TrainerSpec

pytestmark = pytest.mark.unit
GOOD_GPU = ["NVIDIA-A100-SXM4-80GB", "Tesla-T4", "H100_80GB.hbm3", "a"]
BAD_GPU = ["NVIDIA A100", "x" * 64, "-a100", "a100-", "a/b", "a100\n", "ü"]


@pytest.mark.parametrize("value", GOOD_GPU)
def test_label_value_gpu_types_are_accepted(value: str) -> None:
    assert Resources(gpu_type=value).gpu_type == value
    assert TrainerResources(gpu_product=value).gpu_product == value


@pytest.mark.parametrize("value", BAD_GPU)
def test_gpu_types_no_node_label_could_hold_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="gpu_type"):
        Resources(gpu_type=value)
    with pytest.raises(ValidationError, match="gpu_product"):
        TrainerResources(gpu_product=value)


@pytest.mark.parametrize(("model", "values"), [
    (Resources, {"cpu": "four"}),
    (Resources, {"memory": "16 GiB"}),
    (Toleration, {"key": "bad key"}),
    (Toleration, {"key": "nvidia.com/gpu", "operator": "Equal", "value": "a b"}),
])
def test_other_child_values_are_refused(model: type[Any], values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model(**values)


def test_a_priority_class_name_must_be_a_dns_subdomain() -> None:
    base = {"image": "x", "tasks": ["causal-lm"], "methods": ["lora"]}
    with pytest.raises(ValidationError, match="priority_class_name"):
        TrainerSpec(**base, priority_class_name="Training Batch")
    assert TrainerSpec(**base, priority_class_name="training.batch").priority_class_name == "training.batch"


def _node(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        schema = schema["items"] if key == "[]" else schema["properties"][key]
    return schema


def _schema(kind: Any) -> dict[str, Any]:
    version = crd_for(kind)["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize(("kind", "path", "good", "bad"), [
    (TRAINING, ("spec", "resources", "gpuType"), GOOD_GPU, BAD_GPU),
    (INFERENCE_SERVICE, ("spec", "resources", "gpuType"), GOOD_GPU, BAD_GPU),
    (TRAINER, ("spec", "resources", "gpuProduct"), GOOD_GPU, BAD_GPU),
    (TRAINER, ("spec", "priorityClassName"), ["batch", "a.b"], ["Batch", "a_b", ""]),
    (TRAINER, ("spec", "tolerations", "[]", "key"), ["nvidia.com/gpu", "dedicated"], ["a b", "/x"]),
])
def test_the_crd_schema_carries_the_same_rule(kind: Any, path: tuple[str, ...], good: list[str],
                                              bad: list[str]) -> None:
    """The API server enforces pattern and maxLength; check what it would decide with the same rules."""
    node = _node(_schema(kind), *path)
    # The API server's regexps are RE2: `$` is the end of the text (Python's \Z), not before a final newline.
    pattern, limit = re.compile(node["pattern"].removesuffix("$") + r"\Z"), node.get("maxLength", 10**6)

    def accepted(value: str) -> bool:
        return bool(pattern.search(value)) and len(value) <= limit and len(value) >= node.get("minLength", 0)

    assert all(accepted(v) for v in good)
    assert not any(accepted(v) for v in bad)

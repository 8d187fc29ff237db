"""The resource models accept the examples and reject what the CRDs reject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kubetune.crd import ALL_KINDS, TRAINING, TrainingSpec
from kubetune.crd.runconfig import TrainRunConfig

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"
KINDS = {k.kind: k for k in ALL_KINDS}


def _examples() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]


def test_one_example_per_kind() -> None:
    assert sorted(doc["kind"] for doc in _examples()) == sorted(KINDS)


@pytest.mark.parametrize("doc", _examples(), ids=lambda d: d["kind"])
def test_examples_validate_and_round_trip(doc: dict[str, Any]) -> None:
    kind = KINDS[doc["kind"]]
    spec = kind.spec.model_validate(doc["spec"])
    # What we would send back is what the user wrote (no defaults injected into the wire form).
    again = kind.spec.model_validate(spec.model_dump(by_alias=True, exclude_none=True, mode="json"))
    assert again == spec
    # `kubectl apply -n <project> -f manifests/examples/` puts them in any project namespace.
    assert "namespace" not in doc["metadata"]


def test_example_trainer_keeps_the_chart_defaults() -> None:
    """The example Trainer is cluster-scoped: named like a chart default, applying it would replace that one."""
    trainer = next(doc for doc in _examples() if doc["kind"] == "Trainer")
    assert trainer["metadata"]["name"] not in {"lora", "qlora", "full"}


def test_example_training_uses_the_example_trainer_and_dataset() -> None:
    docs = {doc["kind"]: doc for doc in _examples()}
    training = docs["Training"]["spec"]
    trainer = docs["Trainer"]
    assert training["trainerRef"] == trainer["metadata"]["name"]
    assert training["baseModel"] in {m["id"] for m in trainer["spec"]["models"]}
    assert training["dataset"]["ref"]["name"] == docs["Dataset"]["metadata"]["name"]
    assert docs["InferenceService"]["spec"]["trainingRef"]["name"] == docs["Training"]["metadata"]["name"]
    declared = {p["name"] for p in trainer["spec"]["parameters"]}
    used = {"".join("_" + c.lower() if c.isupper() else c for c in key) for key in training["hyperparameters"]}
    assert used <= declared, used - declared


def _training(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "trainerRef": "lora",
        "baseModel": "file:///models/tiny",
        "dataset": {"uri": "file:///data/train.jsonl", "format": "alpaca"},
    }
    spec.update(overrides)
    return spec


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"hyperparameters": {"loraRank": 0}}, "loraRank"),
        ({"hyperparameters": {"learningRate": 5}}, "learningRate"),
        ({"method": "adapters"}, "method"),
        ({"task": "translation"}, "task"),
        ({"baseModel": "ftp://x/y"}, "baseModel"),
        ({"dataset": {"ref": {"name": "a"}, "uri": "file:///b"}}, "exactly one of ref or uri"),
        ({"hyperparameters": {"unknownKnob": 1}}, "unknownKnob"),
        ({"trainerRef": "Not_A_Name"}, "trainerRef"),
    ],
)
def test_bad_training_specs_are_rejected(overrides: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        TrainingSpec.model_validate(_training(**overrides))
    assert needle in str(err.value)


def test_missing_trainer_ref_is_rejected() -> None:
    spec = _training()
    del spec["trainerRef"]
    with pytest.raises(ValidationError, match="trainerRef"):
        TrainingSpec.model_validate(spec)


def test_manifest_builder_uses_group_version_and_namespace() -> None:
    obj = TRAINING.manifest("t1", TrainingSpec.model_validate(_training()), namespace="ns")
    assert obj["apiVersion"] == "kubetune.io/v1alpha1"
    assert obj["metadata"] == {"name": "t1", "namespace": "ns"}
    assert obj["spec"]["trainerRef"] == "lora"
    assert TRAINING.api_path("ns", "t1") == "/apis/kubetune.io/v1alpha1/namespaces/ns/trainings/t1"


def test_run_config_reads_camel_case_json(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(
        '{"baseModel": "file:///m", "output": "file:///o", "method": "full",'
        ' "dataset": {"uri": "/d.jsonl", "format": "prompt_completion"},'
        ' "hyperparameters": {"learningRate": 0.001, "loraRank": 4}}'
    )
    cfg = TrainRunConfig.load(path)
    assert cfg.method == "full"
    assert cfg.hyperparameters.learning_rate == 0.001
    assert cfg.hyperparameters.lora_rank == 4
    assert cfg.hyperparameters.batch_size == 4  # default filled in

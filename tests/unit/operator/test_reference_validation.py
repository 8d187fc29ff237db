"""A Training's and an InferenceService's references through the one resolver, as the operator checks them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.settings import Settings
from kubetune.operator.validation import catalog_uris, check_references, check_served_model

SETTINGS = Settings(artifact_pvc="artifacts", artifact_mount_path="/mnt/artifacts",
                    object_store_root="s3://bucket/kt")
STORE = "file:///mnt/artifacts"


@pytest.fixture
def problems_of(make_training: Callable[..., TrainingSpec], trainer: TrainerSpec) -> Callable[..., list[str]]:
    def problems(**overrides: Any) -> list[str]:
        return check_references(make_training(**overrides), "alice", SETTINGS.reference_layout(catalog_uris(trainer)))

    return problems


def test_references_inside_the_project_pass(problems_of: Callable[..., list[str]]) -> None:
    dataset = {"uri": f"{STORE}/alice/datasets/d/train.jsonl", "format": "openai_chat_jsonl",
               "trainSplit": "train", "validationSplit": "validation"}
    assert problems_of(dataset=dataset, output=f"{STORE}/alice/out/r1") == []
    assert problems_of(baseModel=f"{STORE}/alice/trainings/t/adapter", dataset=dataset) == []
    assert problems_of(baseModel="file:///models/tiny-llama", dataset=dataset) == []  # the admin's
    assert problems_of(baseModel="pvc://my-models/llama", dataset=dataset) == []
    assert problems_of(baseModel="s3://bucket/kt/alice/m", dataset=dataset) == []


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"baseModel": f"{STORE}/bob/trainings/t/adapter"}, "baseModel .* outside this project"),
        ({"baseModel": "pvc://x//etc/passwd"}, "baseModel .* empty path segment"),
        ({"baseModel": "pvc://artifacts/bob/t"}, "outside this project"),
        ({"baseModel": "s3://other-bucket/kt/alice/m"}, "bucket bucket"),
        ({"dataset": {"uri": "file:///etc/passwd", "format": "alpaca"}}, "dataset.uri"),
        ({"dataset": {"uri": f"{STORE}/alice/d.jsonl", "format": "alpaca",
                      "trainSplit": "../../bob/datasets/x/train"}}, "dataset.trainSplit"),
        ({"dataset": {"uri": f"{STORE}/alice/d.jsonl", "format": "alpaca",
                      "validationSplit": "%2e%2e"}}, "dataset.validationSplit"),
        ({"output": f"{STORE}/bob/out"}, "output"),
        ({"output": "file:///models/tiny-llama"}, "output"),  # the catalog is read-only
    ],
)
def test_references_outside_the_project_are_problems(problems_of: Callable[..., list[str]],
                                                      overrides: dict[str, Any], why: str) -> None:
    problems = "; ".join(problems_of(**overrides))
    assert problems
    assert re.search(why, problems), problems


def test_served_models(trainer: TrainerSpec) -> None:
    layout = SETTINGS.reference_layout(catalog_uris(trainer))
    ok = ServedModel("file:///models/tiny-llama", {"mine": f"{STORE}/alice/trainings/t/adapter"})
    assert check_served_model(ok, "alice", layout) == []
    bad = ServedModel("file:///models/tiny-llama", {"theirs": f"{STORE}/bob/trainings/t/adapter"})
    (problem,) = check_served_model(bad, "alice", layout)
    assert problem.startswith("adapter theirs")


def test_a_referenced_datasets_uri_is_checked_again(make_training: Callable[..., TrainingSpec],
                                                    trainer: TrainerSpec) -> None:
    spec = make_training(dataset={"ref": {"name": "d"}})
    layout = SETTINGS.reference_layout(catalog_uris(trainer))
    assert check_references(spec, "alice", layout, f"{STORE}/alice/datasets/d.jsonl") == []
    (problem,) = check_references(spec, "alice", layout, f"{STORE}/bob/datasets/d.jsonl")
    assert problem.startswith("Dataset uri")

"""Training.spec.serve.into: which adapters a running InferenceService gains from Trainings of its namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import trainer_doc, training_doc
from pydantic import ValidationError

from kubetune.crd.chains import ChainModel
from kubetune.crd.crd_yaml import crd_for
from kubetune.crd.inferenceservice import MAX_ADAPTERS, InferenceServiceSpec
from kubetune.crd.kinds import TRAINING
from kubetune.crd.references import StoreLayout
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import SERVE_INTO_NEEDS_ADAPTER, SERVE_NEW_OR_INTO, TrainingSpec
from kubetune.operator.builders.deployment import build_deployment
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.owner import Owner
from kubetune.operator.serve_into import (
    Trained,
    merge_trained,
    served_by_updates,
    services_to_follow,
    trained_adapters,
)
from kubetune.operator.settings import Settings
from kubetune.operator.validation import check_references, validate_training

pytestmark = pytest.mark.unit
NS = "team-a"
BASE = "file:///models/tiny-llama"


def _training(name: str, phase: str, output: str | None, namespace: str = NS, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if output:
        status["output"] = output
    return {"name": name, "namespace": namespace, "spec": training_doc(**spec), "status": status}


def _index(*views: dict[str, Any]) -> dict[Any, list[dict[str, Any]]]:
    return {(v["namespace"], v["name"]): [v] for v in views}


TRAINERS = {"lora": [{"spec": trainer_doc()}]}
INTO = {"into": {"name": "chat"}}


def test_succeeded_trainings_serving_into_the_service_add_their_adapter_by_name() -> None:
    views = _index(
        _training("sft-b", "Succeeded", "file:///store/team-a/sft-b", serve=INTO),
        _training("sft-a", "Succeeded", "file:///store/team-a/sft-a", serve=INTO),
        _training("running", "Running", None, serve=INTO),
        _training("elsewhere", "Succeeded", "file:///store/team-a/e", serve={"into": {"name": "other"}}),
        _training("plain", "Succeeded", "file:///store/team-a/p"),
        _training("sft-c", "Succeeded", "file:///store/team-b/c", namespace="team-b", serve=INTO),
    )
    trained = trained_adapters(NS, "chat", views, TRAINERS)
    assert [t.training for t in trained] == ["sft-a", "sft-b"]
    model, problems = merge_trained(ServedModel(BASE, {"mine": "file:///store/team-a/mine"}), trained)
    assert problems == []
    assert model.adapters == {"mine": "file:///store/team-a/mine", "sft-a": "file:///store/team-a/sft-a",
                              "sft-b": "file:///store/team-a/sft-b"}
    # The base model only decides the version: an added adapter rolls nothing out.
    assert model.fingerprint() == ServedModel(BASE).fingerprint()


def test_a_trained_adapter_leaves_the_pod_template_as_it_was(settings: Settings) -> None:
    """Not the default adapter either: the served name keeps answering with the base model (or spec's first)."""
    owner = Owner(api_version="kubetune.io/v1alpha1", kind="InferenceService", name="chat", uid="u", namespace=NS)
    spec = InferenceServiceSpec.model_validate({"model": {"baseModel": BASE}})
    trained = [Trained("sft", ChainModel(BASE, "file:///store/team-a/sft", "sft", "lora"))]
    model, problems = merge_trained(ServedModel(BASE), trained)
    assert problems == [] and model.adapters == {"sft": "file:///store/team-a/sft"} and model.default_adapter == ""
    before = build_deployment(owner, spec, ServedModel(BASE), "v1", settings)
    assert build_deployment(owner, spec, model, "v1", settings) == before
    with_spec, _ = merge_trained(ServedModel(BASE, {"mine": "file:///m"}), trained)
    assert with_spec.default_adapter == "mine"


def test_an_adapter_that_does_not_fit_the_service_is_left_out_with_the_reason() -> None:
    other_base = Trained("other-base", ChainModel("file:///models/big", "file:///s/ob", "other-base", "lora"))
    full = Trained("full", ChainModel("file:///s/full", None, "full", "full"))
    taken = Trained("mine", ChainModel(BASE, "file:///s/mine-trained", "mine", "lora"))
    same = Trained("same", ChainModel(BASE + "/", "file:///s/same", "same", "lora"))  # a trailing / is the same
    model, problems = merge_trained(ServedModel(BASE, {"mine": "file:///s/mine"}), [other_base, full, taken, same])
    assert model.adapters == {"mine": "file:///s/mine", "same": "file:///s/same"}
    assert problems == [
        "adapter of Training other-base not loaded: trained on file:///models/big, this service serves " + BASE,
        "Training full is a full fine-tuning: it has no adapter to load",
        "adapter of Training mine not loaded: the name mine is taken by spec.model.adapters",
    ]


def test_at_most_max_adapters_are_served() -> None:
    spec_adapters = {f"a{i}": f"file:///s/a{i}" for i in range(MAX_ADAPTERS)}
    extra = Trained("late", ChainModel(BASE, "file:///s/late", "late", "lora"))
    model, problems = merge_trained(ServedModel(BASE, spec_adapters), [extra])
    assert "late" not in model.adapters and len(model.adapters) == MAX_ADAPTERS
    assert problems == [f"adapter of Training late not loaded: the service has {MAX_ADAPTERS} adapters, "
                        "the most it serves"]


def test_a_chained_training_serves_its_adapter_on_the_chain_s_first_weights() -> None:
    views = _index(
        _training("parent", "Succeeded", "file:///store/team-a/parent"),
        _training("child", "Succeeded", "file:///store/team-a/child", baseModel="training://parent", serve=INTO),
    )
    [trained] = trained_adapters(NS, "chat", views, TRAINERS)
    assert trained.model is not None
    assert (trained.model.base_model, trained.model.adapter) == (BASE, "file:///store/team-a/child")


def test_the_services_to_follow_include_those_that_list_a_deleted_or_retargeted_training() -> None:
    isvcs = {(NS, "chat"): [{"status": {"adapters": ["sft", "mine"]}}],
             (NS, "other"): [{"status": {"adapters": []}}],
             ("team-b", "chat"): [{"status": {"adapters": ["sft"]}}]}
    spec = training_doc(serve={"into": {"name": "other"}})
    assert services_to_follow(NS, "sft", spec, "Succeeded", False, isvcs) == ["chat", "other"]
    assert services_to_follow(NS, "sft", spec, "Running", False, isvcs) == []
    assert services_to_follow(NS, "sft", spec, "Succeeded", True, isvcs) == ["chat"]
    assert services_to_follow(NS, "sft", training_doc(), "Succeeded", False, isvcs) == ["chat"]


def test_serve_into_is_checked_before_the_training_runs(make_training: Callable[..., TrainingSpec],
                                                        trainer: TrainerSpec) -> None:
    layout = StoreLayout(store_root="/store")
    data = {"uri": "file:///store/team-a/d.jsonl", "format": "alpaca"}
    across = make_training(dataset=data, serve={"into": {"name": "chat", "namespace": "team-b"}})
    assert check_references(across, NS, layout) == [
        "serve.into names InferenceService chat of namespace team-b: a Training serves its adapter only into an "
        "InferenceService of its own project (namespace team-a)"]
    own = make_training(dataset=data, serve={"into": {"name": "chat", "namespace": NS}})
    assert check_references(own, NS, layout) == []
    full_trainer = trainer.model_copy(update={"methods": ["lora", "full"]})
    full = make_training(method="full", serve=INTO, hyperparameters={"learningRate": 5e-4})
    assert validate_training(full, full_trainer) == [SERVE_INTO_NEEDS_ADAPTER]
    with pytest.raises(ValidationError, match="set one of them"):
        make_training(serve={"enabled": True, "into": {"name": "chat"}})


def test_the_crd_refuses_what_the_models_refuse() -> None:
    rules = {rule["message"] for rule in _rules(crd_for(TRAINING))}
    assert {SERVE_NEW_OR_INTO, SERVE_INTO_NEEDS_ADAPTER} <= rules


def _rules(node: Any) -> list[dict[str, str]]:
    if isinstance(node, dict):
        return [*node.get("x-kubernetes-validations", []), *(r for v in node.values() for r in _rules(v))]
    if isinstance(node, list):
        return [r for v in node for r in _rules(v)]
    return []


def test_trainings_say_which_service_serves_their_adapter() -> None:
    def view(name: str, served_by: str | None, **spec: Any) -> dict[str, Any]:
        found = _training(name, "Succeeded", f"file:///store/team-a/{name}", **spec)
        if served_by:
            found["status"]["inferenceService"] = served_by
        return found

    views = _index(view("new", None, serve=INTO), view("known", "chat", serve=INTO),
                   view("moved", "chat", serve={"into": {"name": "other"}}), view("retired", "chat"),
                   view("own", "chat", serve={"enabled": True}), view("theirs", "other", serve={"enabled": True}))
    assert served_by_updates(NS, "chat", {"new", "known"}, views) == {"new": "chat", "moved": None,
                                                                       "retired": None}
    assert served_by_updates("team-b", "chat", {"new"}, views) == {}

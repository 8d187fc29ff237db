"""The operator's checks and run config for objective dpo and training:// chains (before any Job exists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubetune.crd.chains import ChainModel, Waiting
from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.references import StoreLayout
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator import chains
from kubetune.operator.builders.job import build_job, trusted_uris
from kubetune.operator.builders.runconfig import ResolutionError, build_run_config
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings
from kubetune.operator.validation import check_references, validate_training

pytestmark = pytest.mark.unit
PAIRS = {"uri": "file:///data/pairs.jsonl", "format": "openai-dpo"}


def test_dpo_with_preference_data_is_valid_without_the_trainer_declaring_beta(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    hp = {"learningRate": 5e-4, "beta": 0.2, "dpoLoss": "sigmoid", "labelSmoothing": 0.1}
    spec = make_training(objective="dpo", dataset=PAIRS, hyperparameters=hp)
    assert validate_training(spec, trainer) == []


def test_objective_and_format_must_agree_also_through_a_dataset_ref(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec
) -> None:
    dpo_on_chat = make_training(objective="dpo", dataset={"ref": {"name": "chats"}})
    problems = validate_training(dpo_on_chat, trainer, DatasetSpec(uri="file:///d.jsonl", format="alpaca"), "Ready")
    assert problems == ["objective dpo needs task causal-lm and a preference dataset (openai-dpo or preference), "
                        "not causal-lm with alpaca"]
    sft_on_pairs = make_training(dataset={"ref": {"name": "pairs"}})
    problems = validate_training(sft_on_pairs, trainer, DatasetSpec(uri="file:///p.jsonl", format="preference"),
                                 "Ready")
    assert problems == ["dataset format preference holds preference pairs: use objective dpo"]


def test_dpo_hyperparameters_belong_to_dpo(make_training: Callable[..., TrainingSpec], trainer: TrainerSpec) -> None:
    spec = make_training(hyperparameters={"beta": 0.3, "dpoLoss": "ipo"})
    assert validate_training(spec, trainer) == ["hyperparameter beta applies to objective dpo only",
                                                "hyperparameter dpoLoss applies to objective dpo only"]
    ipo = make_training(objective="dpo", dataset=PAIRS, hyperparameters={"dpoLoss": "ipo", "labelSmoothing": 0.1})
    assert validate_training(ipo, trainer) == ["labelSmoothing applies to the sigmoid dpoLoss, not ipo"]


def test_training_uris_pass_the_reference_check_and_other_schemes_do_not_sneak_in(
    make_training: Callable[..., TrainingSpec],
) -> None:
    layout = StoreLayout(store_root="/store")
    data = {"uri": "file:///store/team-a/d.jsonl", "format": "alpaca"}
    assert check_references(make_training(baseModel="training://sft/checkpoints/20", dataset=data), "team-a",
                            layout) == []
    with pytest.raises(ValueError, match="baseModel"):
        make_training(baseModel="training://../other")


def test_run_config_of_a_chain_carries_base_adapter_and_objective(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec, settings: Settings, owner: Owner
) -> None:
    spec = make_training(baseModel="training://sft", objective="dpo", dataset=PAIRS)
    with pytest.raises(ResolutionError, match="not been resolved"):
        build_run_config(namespace="team-a", name="dpo", uid=None, spec=spec, trainer=trainer, dataset=None,
                         settings=settings)
    chain = ChainModel("file:///models/tiny-llama", "file:///mnt/artifacts/team-a/trainings/sft/adapter", "sft", "lora")
    config = build_run_config(namespace="team-a", name="dpo", uid=None, spec=spec, trainer=trainer, dataset=None,
                              settings=settings, chain=chain)
    assert (config.base_model, config.adapter, config.objective) == (
        "file:///models/tiny-llama", "file:///mnt/artifacts/team-a/trainings/sft/adapter", "dpo")
    assert config.hyperparameters.beta == 0.1  # the default temperature
    assert trusted_uris(spec, config) == frozenset({"file:///models/tiny-llama"})  # the chain's catalog model
    job = build_job(owner, spec, trainer, settings, config)
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "file:///models/tiny-llama" in (env.get("KUBETUNE_REFERENCE_TRUSTED") or "")


def test_operator_lookup_resolves_catalog_ids_of_the_parent(trainer: TrainerSpec) -> None:
    parent = {"spec": {"baseModel": "tiny-llama", "trainerRef": "lora", "method": "lora",
                       "dataset": {"uri": "file:///d", "format": "alpaca"}},
              "status": {"phase": "Succeeded", "output": "file:///o/adapter"}}
    training_views: dict[Any, list[Any]] = {("team-a", "sft"): [parent]}
    trainer_specs = {"lora": [{"spec": trainer.model_dump(by_alias=True, exclude_none=True)}]}
    found = chains.training_model("training://sft", "team-a", training_views, trainer_specs)
    assert found == ChainModel("file:///models/tiny-llama", "file:///o/adapter", "sft", "lora")
    other_namespace = chains.training_model("training://sft", "team-b", training_views, trainer_specs)
    assert isinstance(other_namespace, Waiting) and "not found in this namespace" in other_namespace.message


def test_an_inference_service_on_a_training_uri_follows_that_trainings_status() -> None:
    import asyncio

    from kubetune.operator.handlers.indexes import READ_FROM_TRAINER, isvcs_by_training, training_view

    def index(spec: dict[str, Any]) -> Any:
        indexer: Any = isvcs_by_training  # kopf types it with every kwarg an indexer may take
        return asyncio.run(indexer(namespace="team-a", name="svc", spec=spec))

    assert index({"model": {"baseModel": "training://dpo/checkpoints/3"}}) == {("team-a", "dpo"): "svc"}
    assert index({"trainingRef": {"name": "sft"}}) == {("team-a", "sft"): "svc"}
    assert index({"model": {"baseModel": "file:///store/team-a/m"}}) is None
    assert "checkpoints" in READ_FROM_TRAINER  # the resolver reads the listed steps from the index
    body = {"metadata": {"name": "dpo", "namespace": "team-a"}, "spec": {},
            "status": {"phase": "Running", "checkpoints": [{"step": 3, "uri": "file:///o/checkpoints/step-00000003"}]}}
    assert training_view(body)["status"]["checkpoints"][0]["step"] == 3

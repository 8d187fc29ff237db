"""Per-Training ServiceAccount, Role, RoleBinding and the run-config ConfigMap."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.configmap import build_run_config_map
from kubetune.operator.builders.rbac import build_role, build_role_binding, build_service_account
from kubetune.operator.builders.runconfig import ResolutionError, build_run_config
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings


def test_role_allows_only_this_trainings_status(owner: Owner) -> None:
    role = build_role(owner)
    assert role["metadata"]["name"] == "run-1-trainer"
    own = [r for r in role["rules"] if r["apiGroups"] == ["kubetune.io"]]
    for rule in own:
        assert rule["resourceNames"] == ["run-1"]
        assert set(rule["verbs"]) <= {"get", "patch"}
    by_resource = {r["resources"][0]: set(r["verbs"]) for r in own}
    assert by_resource == {"trainings/status": {"get", "patch"}, "trainings": {"get"}}
    # Besides its own Training, the account may only post Events (never read them or anything else).
    others = [r for r in role["rules"] if r not in own]
    assert others == [{"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]


def test_binding_ties_the_role_to_the_trainings_account(owner: Owner) -> None:
    binding = build_role_binding(owner)
    account = build_service_account(owner)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "run-1-trainer"}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "team-a"}
    ]
    for obj in (binding, account, build_role(owner)):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_run_config_resolves_catalog_ids_and_defaults(
    training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    config = build_run_config(
        namespace="team-a", name="run-1", uid="uid-1", spec=training, trainer=trainer, dataset=None, settings=settings
    )
    assert config.base_model == "file:///models/tiny-llama"
    hp = config.hyperparameters
    assert hp.learning_rate == 5e-4  # the Training's value wins
    assert hp.lora_rank == 8
    assert hp.epochs == 2  # the Trainer's default
    assert hp.batch_size == 4  # the runtime default (no Trainer default)
    assert hp.extra == {"neftune_alpha": 5}  # declared by the Trainer, not a typed field
    assert config.output == "file:///mnt/artifacts/team-a/trainings/run-1"
    assert config.resume == "latest"
    assert config.training is not None and config.training.uid == "uid-1"


def test_run_config_takes_dataset_ref_format_and_resume_step(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec, settings: Settings
) -> None:
    spec = make_training(dataset={"ref": {"name": "chats"}}, resumeFrom={"step": 40}, output="file:///out/x")
    dataset = DatasetSpec(uri="file:///data/chats.jsonl", format="alpaca")
    config = build_run_config(
        namespace="ns", name="n", uid=None, spec=spec, trainer=trainer, dataset=dataset, settings=settings
    )
    assert (config.dataset.uri, config.dataset.format) == ("file:///data/chats.jsonl", "alpaca")
    assert config.resume == 40
    assert config.output == "file:///out/x"


def test_run_config_refuses_an_unknown_model(
    make_training: Callable[..., TrainingSpec], trainer: TrainerSpec, settings: Settings
) -> None:
    with pytest.raises(ResolutionError, match="not in the catalog"):
        build_run_config(
            namespace="ns",
            name="n",
            uid=None,
            spec=make_training(baseModel="nope"),
            trainer=trainer,
            dataset=None,
            settings=settings,
        )


def test_config_map_round_trips_through_the_trainers_loader(
    owner: Owner, training: TrainingSpec, trainer: TrainerSpec, settings: Settings
) -> None:
    config = build_run_config(
        namespace="team-a", name="run-1", uid="uid-1", spec=training, trainer=trainer, dataset=None, settings=settings
    )
    cm = build_run_config_map(owner, config)
    assert cm["metadata"]["name"] == "run-1-run"
    loaded = TrainRunConfig.model_validate(json.loads(cm["data"]["run.json"]))
    assert loaded == config

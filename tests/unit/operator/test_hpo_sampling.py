"""HPO trials: grid and seeded random samples, trial specs, objective and best trial."""

from __future__ import annotations

from collections.abc import Callable

from kubetune.crd.training import HPOSpec, TrainingSpec
from kubetune.operator.builders.hpo import best_trial, build_trial, objective_value, sample_trials
from kubetune.operator.handlers.hpo import parent_state
from kubetune.operator.owner import Owner


def hpo(**kw: object) -> HPOSpec:
    return HPOSpec.model_validate({"enabled": True, **kw})


def test_grid_is_the_cartesian_product_truncated_to_max_trials() -> None:
    spec = hpo(
        strategy="grid",
        maxTrials=4,
        parameters=[{"name": "learningRate", "values": [1e-4, 1e-3]}, {"name": "loraRank", "values": [8, 16, 32]}],
    )
    trials = sample_trials(spec)
    assert trials == [
        {"learning_rate": 1e-4, "lora_rank": 8},
        {"learning_rate": 1e-4, "lora_rank": 16},
        {"learning_rate": 1e-4, "lora_rank": 32},
        {"learning_rate": 1e-3, "lora_rank": 8},
    ]


def test_grid_over_a_range_uses_ends_and_middle() -> None:
    spec = hpo(
        strategy="grid",
        maxTrials=10,
        parameters=[
            {"name": "lora_rank", "min": 4, "max": 16},
            {"name": "learning_rate", "min": 1e-5, "max": 1e-3, "logScale": True},
        ],
    )
    ranks = sorted({t["lora_rank"] for t in sample_trials(spec)})
    rates = sorted({float(t["learning_rate"]) for t in sample_trials(spec)})
    assert ranks == [4, 10, 16]
    assert rates[0] == 1e-5 and rates[2] == 1e-3
    assert abs(rates[1] - 1e-4) < 1e-12  # the geometric middle on a log scale


def test_random_is_deterministic_per_seed_and_inside_bounds() -> None:
    spec = hpo(
        strategy="random",
        maxTrials=8,
        parameters=[
            {"name": "learningRate", "min": 1e-5, "max": 1e-2, "logScale": True},
            {"name": "batchSize", "min": 1, "max": 16},
            {"name": "lrScheduler", "values": ["linear", "cosine"]},
        ],
    )
    first, again, other = sample_trials(spec, 7), sample_trials(spec, 7), sample_trials(spec, 8)
    assert first == again and first != other and len(first) == 8
    for trial in first:
        assert 1e-5 <= float(trial["learning_rate"]) <= 1e-2
        assert isinstance(trial["batch_size"], int) and 1 <= trial["batch_size"] <= 16
        assert trial["lr_scheduler"] in ("linear", "cosine")


def test_trial_is_an_owned_training_without_search_or_serving(
    owner: Owner, make_training: Callable[..., TrainingSpec]
) -> None:
    parent = make_training(
        hpo={"enabled": True, "parameters": [{"name": "loraRank", "values": [4]}]}, serve={"enabled": True}
    )
    trial = build_trial(owner, parent, 2, {"lora_rank": 4, "neftune_alpha": 1.5})
    assert trial["metadata"]["name"] == "run-1-trial-2"
    assert trial["metadata"]["labels"]["kubetune.io/hpo-parent"] == "run-1"
    assert trial["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    spec = TrainingSpec.model_validate(trial["spec"])
    assert spec.hpo is None and spec.serve is None
    assert spec.hyperparameters.lora_rank == 4
    assert spec.hyperparameters.learning_rate == 5e-4  # kept from the parent
    assert spec.hyperparameters.extra == {"neftune_alpha": 1.5}


def test_objective_and_best_trial() -> None:
    assert objective_value({"metrics": {"eval_loss": 0.5}}, "eval_loss") == 0.5
    assert objective_value({"summary": {"bestEvalLoss": 0.7}}, "eval_loss") == 0.7
    assert objective_value({}, "eval_loss") is None
    trials = [
        {"name": "a", "phase": "Succeeded", "objective": 0.9},
        {"name": "b", "phase": "Succeeded", "objective": 0.4},
        {"name": "c", "phase": "Failed", "objective": 0.1},
    ]
    assert best_trial(trials, "minimize") == "b"
    assert best_trial(trials, "maximize") == "a"
    assert best_trial([], "minimize") is None


def test_a_suspended_search_is_stopping_until_every_unfinished_trial_stopped(
    make_training: Callable[..., TrainingSpec]
) -> None:
    parent = make_training(suspend=True, hpo={"enabled": True, "maxTrials": 3,
                                               "parameters": [{"name": "loraRank", "values": [4, 8, 16]}]})
    trials = [{"name": "t0", "phase": "Succeeded"}, {"name": "t1", "phase": "Running"}]
    assert parent_state(parent, trials).phase == "Stopping"
    trials[1]["phase"] = "Stopped"
    state = parent_state(parent, trials)
    assert (state.phase, state.reason) == ("Stopped", "Suspended")
    assert "1/3 trials finished" in state.message

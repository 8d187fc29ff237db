"""Hyperparameter search: trial samples (grid or seeded random) and the trial Trainings."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.kinds import TRAINING
from kubetune.crd.trainer import ParamValue
from kubetune.crd.training import HPOParameter, HPOSpec, Hyperparameters, TrainingSpec
from kubetune.operator.builders.hyperparameters import flatten, snake, unflatten
from kubetune.operator.owner import Owner, child_metadata

GRID_POINTS_PER_RANGE = 3
DEFAULT_SEED = 42


def _is_int_field(name: str) -> bool:
    info = Hyperparameters.model_fields.get(name)
    return info is not None and "int" in str(info.annotation) and "float" not in str(info.annotation)


def _cast(name: str, value: float) -> ParamValue:
    return round(value) if _is_int_field(name) else value


def _grid_values(param: HPOParameter) -> list[ParamValue]:
    """Listed values, or min / middle / max of a range (geometric middle on a log scale)."""
    name = snake(param.name)
    if param.values is not None:
        return list(param.values)
    assert param.min is not None and param.max is not None
    lo, hi = param.min, param.max
    mid = math.sqrt(lo * hi) if param.log_scale and lo > 0 else (lo + hi) / 2
    points = [_cast(name, v) for v in (lo, mid, hi)]
    return list(dict.fromkeys(points))  # a narrow int range may collapse


def _random_value(param: HPOParameter, rng: random.Random) -> ParamValue:
    name = snake(param.name)
    if param.values is not None:
        return rng.choice(param.values)
    assert param.min is not None and param.max is not None
    if param.log_scale and param.min > 0:
        value = math.exp(rng.uniform(math.log(param.min), math.log(param.max)))
    else:
        value = rng.uniform(param.min, param.max)
    return _cast(name, value)


def sample_trials(hpo: HPOSpec, seed: int | None = None) -> list[dict[str, ParamValue]]:
    """The trials' parameter values, in order; the same spec and seed always give the same list."""
    names = [snake(p.name) for p in hpo.parameters]
    if hpo.strategy == "grid":
        grid = itertools.product(*(_grid_values(p) for p in hpo.parameters))
        return [dict(zip(names, combo, strict=True)) for combo in itertools.islice(grid, hpo.max_trials)]
    rng = random.Random(DEFAULT_SEED if seed is None else seed)  # noqa: S311 - reproducible sampling, not security
    return [
        {name: _random_value(p, rng) for name, p in zip(names, hpo.parameters, strict=True)}
        for _ in range(hpo.max_trials)
    ]


def trial_spec(parent: TrainingSpec, values: dict[str, ParamValue]) -> TrainingSpec:
    """The parent's spec with the sampled values, without search or serving of its own."""
    merged = flatten(parent.hyperparameters)
    merged.update(values)
    return parent.model_copy(update={"hyperparameters": unflatten(merged), "hpo": None, "serve": None})


def build_trial(
    owner: Owner, parent: TrainingSpec, index: int, values: dict[str, ParamValue]
) -> dict[str, Any]:
    """Trial `index` (0-based) as a child Training owned by the parent."""
    name = lbl.hpo_trial_name(owner.name, index)
    meta = child_metadata(owner, name, {lbl.HPO_PARENT: owner.name})
    return {
        "apiVersion": TRAINING.api_version,
        "kind": TRAINING.kind,
        "metadata": meta,
        "spec": trial_spec(parent, values).to_wire(),
    }


def objective_value(status: dict[str, Any], metric: str) -> float | None:
    """A trial's objective: status.metrics first, then the loss summary for the loss metrics."""
    metrics = status.get("metrics") or {}
    for key in (metric, snake(metric)):
        if isinstance(metrics.get(key), int | float):
            return float(metrics[key])
    summary = status.get("summary") or {}
    fallback = {"eval_loss": "bestEvalLoss", "loss": "finalLoss", "train_loss": "finalLoss"}.get(
        snake(metric)
    )
    value = summary.get(fallback) if fallback else None
    return float(value) if isinstance(value, int | float) else None


def best_trial(trials: list[dict[str, Any]], goal: str) -> str | None:
    """The succeeded trial with the best objective (ties: the earlier trial)."""
    scored = [t for t in trials if t.get("phase") == "Succeeded" and t.get("objective") is not None]
    if not scored:
        return None
    pick = min if goal == "minimize" else max
    return str(pick(scored, key=lambda t: t["objective"])["name"])

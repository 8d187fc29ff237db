"""Hyperparameter names: typed fields, their wire aliases, and the Trainer's extra keys."""

from __future__ import annotations

import re
from typing import Any

from kubetune.crd.runconfig import RunHyperparameters
from kubetune.crd.trainer import ParamValue, TrainerSpec
from kubetune.crd.training import Hyperparameters

TYPED_FIELDS: frozenset[str] = frozenset(Hyperparameters.model_fields) - {"extra"}
RUN_FIELDS: frozenset[str] = frozenset(RunHyperparameters.model_fields) - {"extra"}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """learningRate -> learning_rate; snake names pass unchanged."""
    return _CAMEL_BOUNDARY.sub(r"_\1", name).lower()


def flatten(hp: Hyperparameters) -> dict[str, Any]:
    """Every hyperparameter the Training sets, typed and extra, by snake name."""
    values = hp.model_dump(exclude_none=True, exclude={"extra"})
    for key, value in (hp.extra or {}).items():
        values[snake(key)] = value
    return values


def unflatten(values: dict[str, Any]) -> Hyperparameters:
    """The inverse of flatten: typed fields where they exist, the rest in extra."""
    typed = {k: v for k, v in values.items() if k in TYPED_FIELDS}
    extra = {k: v for k, v in values.items() if k not in TYPED_FIELDS}
    return Hyperparameters.model_validate({**typed, "extra": extra or None})


def resolve(trainer: TrainerSpec, hp: Hyperparameters) -> RunHyperparameters:
    """Concrete values: runtime defaults, then the Trainer's declared defaults, then the Training's."""
    values: dict[str, Any] = {}
    extra: dict[str, ParamValue] = {}
    for definition in trainer.parameters:
        if definition.default is None:
            continue
        if definition.name in RUN_FIELDS:
            values[definition.name] = definition.default
        else:
            extra[definition.name] = definition.default
    for key, value in flatten(hp).items():
        if key in RUN_FIELDS:
            values[key] = value
        else:
            extra[key] = value
    return RunHyperparameters.model_validate({**values, "extra": extra})

"""The operator's side of chains: kubetune.crd.chains with the operator's indexes as the lookup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.crd.chains import ChainModel, Waiting, resolve_training_model
from kubetune.crd.references import InvalidReference
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.runconfig import ResolutionError, resolve_base_model
from kubetune.operator.handlers.common import one

WAITING_REASON = "WaitingForBaseTraining"


def training_model(uri: str, namespace: str, training_views: Any, trainer_specs: Any, *,
                   what: str = "baseModel", referrer: str | None = None) -> ChainModel | Waiting:
    """What ``training://...`` names in ``namespace``, or Waiting; InvalidReference when it never can."""

    def lookup(name: str) -> Mapping[str, Any] | None:
        found: Mapping[str, Any] | None = one(training_views, (namespace, name))
        return found

    def base_of(spec: Mapping[str, Any]) -> str:
        parent = TrainingSpec.model_validate(spec)
        trainer = one(trainer_specs, parent.trainer_ref)
        if "://" in parent.base_model:
            return parent.base_model
        if trainer is None:
            raise InvalidReference(what, uri, f"starts from {parent.base_model!r} of Trainer {parent.trainer_ref}, "
                                   "which no longer exists")
        try:
            return resolve_base_model(parent, TrainerSpec.model_validate(trainer["spec"]))
        except ResolutionError as exc:
            raise InvalidReference(what, uri, f"cannot be resolved: {exc}") from exc

    return resolve_training_model(uri, lookup, base_of, what=what, referrer=referrer)

"""An InferenceService judged at admission as the operator judges it (handlers/inferenceservice.py).

What can be judged from the spec alone: a model given directly (``spec.model``), whose base model and
adapters go through the one resolver with the admin's catalog trusted (check_served_model), refused
with the operator's "; "-joined message. A ``trainingRef`` or a ``training://`` base model waits for
its Training in the operator (WaitingForTraining): admitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.kinds import TRAINER
from kubetune.crd.references import is_training_uri
from kubetune.operator.admission.review import Reader
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.settings import Settings
from kubetune.operator.validation import check_served_model


def inference_service_problems(obj: Mapping[str, Any], namespace: str, reader: Reader,
                               settings: Settings) -> list[str]:
    try:
        spec = InferenceServiceSpec.model_validate(obj.get("spec") or {})
    except ValidationError as exc:
        return [f"invalid spec: {exc}"]
    if spec.model is None or is_training_uri(spec.model.base_model):
        return []
    # The operator's own set of trusted uris (every Trainer's catalog), from the same function; imported
    # here because the handlers' module loads kopf's handler registry.
    from kubetune.operator.handlers.inferenceservice import admin_uris

    trusted = admin_uris({None: reader.list(TRAINER.api_version, TRAINER.kind)})
    return check_served_model(ServedModel.from_source(spec.model), namespace, settings.reference_layout(trusted))

"""Train -> serve: the InferenceService a Training with spec.serve gets once it succeeds."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.kinds import INFERENCE_SERVICE
from kubetune.crd.limits import CacheSettings, InferenceLimits
from kubetune.crd.training import TrainingSpec
from kubetune.operator.owner import Owner, child_metadata


def build_inference_service(owner: Owner, spec: TrainingSpec) -> dict[str, Any]:
    """Owned by the Training (deleting the Training deletes the service)."""
    serve = spec.serve
    assert serve is not None
    isvc = InferenceServiceSpec.model_validate(
        {
            "trainingRef": {"name": owner.name},
            "task": spec.task,
            "replicas": serve.replicas,
            "resources": serve.resources,
            "limits": serve.limits or InferenceLimits(),
            "cache": serve.cache or CacheSettings(),
        }
    )
    name = lbl.training_inference_service_name(owner.name)
    return {
        "apiVersion": INFERENCE_SERVICE.api_version,
        "kind": INFERENCE_SERVICE.kind,
        "metadata": child_metadata(owner, name, {lbl.TRAINING: owner.name}),
        "spec": isvc.to_wire(),
    }

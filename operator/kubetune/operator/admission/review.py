"""AdmissionReview in, AdmissionReview out: a Training judged as the operator judges it later
(an InferenceService: serving.py).

The order and the words are handlers/training.py's (reconcile_training): the references first, then the
Kueue integration, then the fit to the Trainer; one message, the problems joined by "; ", exactly as the
Failed condition would say. What the operator waits for is admitted, so that GitOps order never
matters: a Trainer that does not exist yet, a Dataset not created or validated yet (its checks wait).
Only spec changes are judged, so metadata writes (finalizers, labels) on an existing Training whose
Trainer changed since are never blocked. Pure: the API server is reached through a ``Reader``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from kubetune.crd.base import GROUP
from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.kinds import DATASET, TRAINER, TRAINING
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders import kueue
from kubetune.operator.settings import Settings
from kubetune.operator.validation import catalog_uris, check_references, validate_training

REVIEW_VERSION = "admission.k8s.io/v1"


class Reader(Protocol):
    """What the webhook reads from the API server: kubetune.operator.kube.Kube's shape."""

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def list(self, api_version: str, kind: str) -> list[dict[str, Any]]: ...


# (the object, its namespace, the reader, the operator's settings) -> the operator's problems with it.
Judge = Callable[[Mapping[str, Any], str, Reader, Settings], list[str]]
WAITING_PHASES = (None, "Pending", "Validating")


def _dataset(spec: TrainingSpec, namespace: str, reader: Reader) -> tuple[DatasetSpec | None, str | None, bool]:
    """The referenced Dataset, its phase, and whether its checks must wait (absent or not validated)."""
    if spec.dataset.ref is None:
        return None, None, False
    found = reader.get(DATASET.api_version, DATASET.kind, namespace, spec.dataset.ref.name)
    if found is None:
        return None, None, True
    try:
        dataset = DatasetSpec.model_validate(found.get("spec") or {})
    except ValidationError:  # the Dataset's own handler reports it; the Training waits meanwhile
        return None, None, True
    phase = (found.get("status") or {}).get("phase")
    return dataset, phase, phase in WAITING_PHASES


def training_problems(obj: Mapping[str, Any], namespace: str, reader: Reader, settings: Settings) -> list[str]:
    """Why the operator would fail this Training (empty: nothing it can say yet)."""
    try:
        spec = TrainingSpec.model_validate(obj.get("spec") or {})
    except ValidationError as exc:
        return [f"invalid spec: {exc}"]
    found = reader.get(TRAINER.api_version, TRAINER.kind, None, spec.trainer_ref)
    if found is None:
        return []  # GitOps order: the operator waits (TrainerNotFound)
    try:
        trainer = TrainerSpec.model_validate(found.get("spec") or {})
    except ValidationError:
        return []  # the Trainer's own handler reports it; nothing to judge the Training against
    dataset, phase, pending = _dataset(spec, namespace, reader)
    refused = check_references(spec, namespace, settings.reference_layout(catalog_uris(trainer)),
                               dataset.uri if dataset is not None else None)
    if refused:
        return refused
    labels = (obj.get("metadata") or {}).get("labels")
    if kueue.queue_of(spec.queue, labels) and not settings.kueue_enabled:
        # The operator's own words (handlers/queue_status.py); imported here, as that module loads
        # kopf's handler registry.
        from kubetune.operator.handlers.queue_status import NOT_ENABLED

        return [NOT_ENABLED]
    return validate_training(spec, trainer, dataset, phase, dataset_pending=pending)


def judged(request: Mapping[str, Any], kind: str = TRAINING.kind) -> bool:
    """An object's CREATE, or an UPDATE that changes its spec."""
    found = request.get("kind") or {}
    if (found.get("group"), found.get("kind")) != (GROUP, kind) or request.get("subResource"):
        return False
    if request.get("operation") == "CREATE":
        return True
    old = request.get("oldObject") or {}
    return request.get("operation") == "UPDATE" and old.get("spec") != (request.get("object") or {}).get("spec")


def response(uid: str, problems: list[str], warnings: list[str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"uid": uid, "allowed": not problems}
    if problems:
        # 422 and reason Invalid, as the API server's own schema refusals: kubectl prints the message.
        answer["status"] = {"code": 422, "reason": "Invalid", "message": "; ".join(problems)}
    if warnings:
        answer["warnings"] = warnings
    return {"apiVersion": REVIEW_VERSION, "kind": "AdmissionReview", "response": answer}


def review(body: Mapping[str, Any], reader: Reader, settings: Settings, kind: str = TRAINING.kind,
           judge: Judge = training_problems) -> dict[str, Any]:
    """The answer to one AdmissionReview of ``kind``. A read that fails admits with a warning: the
    operator judges the object again anyway, and a flaky read must not block a GitOps sync."""
    request = body.get("request")
    if body.get("kind") != "AdmissionReview" or not isinstance(request, Mapping) or not request.get("uid"):
        raise ValueError("not an AdmissionReview request")
    uid = str(request["uid"])
    if not judged(request, kind):
        return response(uid, [])
    obj = request.get("object") or {}
    namespace = request.get("namespace") or (obj.get("metadata") or {}).get("namespace") or ""
    try:
        problems = judge(obj, namespace, reader, settings)
    except Exception as exc:
        return response(uid, [], [f"kubetune's admission check could not run ({type(exc).__name__}); "
                                  f"the operator validates the {kind} when it reconciles it"])
    return response(uid, problems)

# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""Trainer: validate image, command and parameter definitions; Ready condition; count its Trainings."""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from kubetune.crd import display
from kubetune.crd.kinds import TRAINER
from kubetune.crd.trainer import TrainerSpec
from kubetune.operator import conditions as cnd
from kubetune.operator.handlers.common import REGISTRY, guarded, many, resource, runtime_of
from kubetune.operator.owner import Owner
from kubetune.operator.runtime import Runtime
from kubetune.operator.validation import validate_trainer

COUNT_INTERVAL_SECONDS = 30


def _owner(name: str, uid: str) -> Owner:
    return Owner(api_version=TRAINER.api_version, kind=TRAINER.kind, name=name, uid=uid)


def reconcile_trainer(rt: Runtime, body: kopf.Body, trainings: int) -> None:
    meta, generation = body["metadata"], body["metadata"].get("generation")
    texts: dict[str, str] = {}
    try:
        spec = TrainerSpec.model_validate(dict(body.get("spec") or {}))
        problems = validate_trainer(spec)
        texts = {"tasks": display.words(spec.tasks), "methods": display.words(spec.methods)}
    except ValidationError as exc:
        problems = [f"invalid spec: {exc}"]
    ready = not problems
    message = "ready" if ready else "; ".join(problems)
    fields = {
        "conditions": [cnd.make("Ready", ready, "Valid" if ready else "InvalidSpec", message, generation)],
        "observedGeneration": generation,
        "trainings": trainings,
        **texts,
    }
    observed = dict(body.get("status") or {})
    was_ready = cnd.is_true(observed.get("conditions"), "Ready")
    written = rt.status.write(TRAINER, _owner(meta["name"], meta.get("uid", "")), observed,
                              meta.get("resourceVersion"), fields)
    if written and ready != was_ready:
        from kubetune.operator.events import emit

        emit(rt.kube, _owner(meta["name"], meta.get("uid", "")), "Ready" if ready else "Invalid", message,
             warning=not ready)
    if not ready:
        raise kopf.PermanentError(message)


@kopf.on.resume(*resource(TRAINER), registry=REGISTRY)
@kopf.on.create(*resource(TRAINER), registry=REGISTRY)
@kopf.on.update(*resource(TRAINER), field="spec", registry=REGISTRY)
def trainer_reconcile(name: str, body: kopf.Body, memo: kopf.Memo, trainings_by_trainer: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    guarded("Trainer", rt, lambda: reconcile_trainer(rt, body, len(many(trainings_by_trainer, name))))


@kopf.timer(*resource(TRAINER), interval=COUNT_INTERVAL_SECONDS, initial_delay=5, registry=REGISTRY)
def trainer_count(name: str, body: kopf.Body, memo: kopf.Memo, trainings_by_trainer: Any, **_: Any) -> None:
    """Keep status.trainings current; a no-op unless the count changed."""
    rt = runtime_of(memo)
    meta = body["metadata"]
    count = len(many(trainings_by_trainer, name))
    guarded("Trainer", rt, lambda: rt.status.write(
        TRAINER, _owner(name, meta.get("uid", "")), dict(body.get("status") or {}), meta.get("resourceVersion"),
        {"trainings": count}))

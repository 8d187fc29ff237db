# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""kopf indexes: in-memory views of the objects handlers look up, fed by watches (no GETs per event).

Async on purpose: kopf runs sync functions in its thread pool, which would cost a thread hop per
index per event and queue index updates behind the handlers' blocking API calls.

Values are compact views (see observed.py) so thousands of objects stay cheap.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.crd.kinds import DATASET, INFERENCE_SERVICE, TRAINER, TRAINING
from kubetune.crd.references import InvalidReference, is_training_uri, parse_training_uri
from kubetune.crd.training import OPERATOR_STATUS_FIELDS
from kubetune.operator import conditions as cnd
from kubetune.operator.builders.kueue import job_queue
from kubetune.operator.handlers.common import REGISTRY, resource
from kubetune.operator.observed import deployment_view, job_view, pod_view
from kubetune.operator.scale_to_zero import activity_of

# Trainer-written fields the operator reads: outputs for serving, metrics for HPO objectives.
# "checkpoints": training://<name>/checkpoints/<step> resolves against the listed steps (crd/chains.py).
READ_FROM_TRAINER = ("output", "metrics", "summary", "checkpoints")


def _owner_uid(meta: Any) -> str | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def compact_status(status: Any, keep: frozenset[str]) -> dict[str, Any]:
    """The status fields the operator reads, conditions packed into tuples (thousands of objects)."""
    out = {k: v for k, v in status.items() if k in keep}
    if "conditions" in out:
        out["conditions"] = cnd.pack(out["conditions"])
    return out


def training_view(body: Any) -> dict[str, Any]:
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    keep = OPERATOR_STATUS_FIELDS.union(READ_FROM_TRAINER)
    return {
        "name": meta["name"],
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "generation": meta.get("generation"),
        "resourceVersion": meta.get("resourceVersion"),
        "labels": dict(meta.get("labels") or {}),
        "spec": dict(spec),
        "status": compact_status(status, keep),
    }


@kopf.index(*resource(TRAINER), registry=REGISTRY)
async def trainer_specs(name: str, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {name: {"uid": body["metadata"].get("uid"), "spec": dict(body.get("spec") or {}),
                   "generation": body["metadata"].get("generation")}}


@kopf.index(*resource(TRAINING), registry=REGISTRY)
async def training_views(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): training_view(body)}


@kopf.index(*resource(TRAINING), registry=REGISTRY)
async def trainings_by_trainer(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
    return {spec.get("trainerRef"): (namespace, name)}


@kopf.index(*resource(TRAINING), labels={lbl.HPO_PARENT: kopf.PRESENT}, registry=REGISTRY)
async def trials_by_parent(namespace: str, name: str, labels: kopf.Labels, **_: Any) -> dict[Any, Any]:
    return {(namespace, labels[lbl.HPO_PARENT]): name}


@kopf.index("batch", "v1", "jobs", labels={lbl.TRAINING: kopf.PRESENT}, registry=REGISTRY)
async def training_jobs(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, labels[lbl.TRAINING]): {**job_view(body), "ownerUid": _owner_uid(body["metadata"]),
                                                "queue": job_queue(labels)}}


@kopf.index("", "v1", "pods", labels={lbl.TRAINING: kopf.PRESENT}, registry=REGISTRY)
async def training_pods(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, labels[lbl.TRAINING]): pod_view(body)}


@kopf.index(*resource(DATASET), registry=REGISTRY)
async def dataset_views(namespace: str, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): {"spec": dict(spec), "phase": status.get("phase")}}


@kopf.index(*resource(INFERENCE_SERVICE), registry=REGISTRY)
async def isvc_views(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    meta, status = body["metadata"], body.get("status") or {}
    return {(namespace, name): {
        "name": name, "namespace": namespace, "uid": meta.get("uid"), "generation": meta.get("generation"),
        "resourceVersion": meta.get("resourceVersion"), "labels": dict(meta.get("labels") or {}),
        "spec": dict(body.get("spec") or {}), "status": compact_status(status, frozenset(status)),
        **activity_of(meta),
    }}


@kopf.index(*resource(INFERENCE_SERVICE), registry=REGISTRY)
async def isvcs_by_training(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any] | None:
    """The Training whose status an InferenceService waits on: trainingRef, or model.baseModel training://."""
    ref = spec.get("trainingRef")
    if ref:
        return {(namespace, ref["name"]): name}
    base = str((spec.get("model") or {}).get("baseModel") or "")
    if is_training_uri(base):
        try:
            return {(namespace, parse_training_uri(base).name): name}
        except InvalidReference:
            return None  # refused when the service itself is reconciled
    return None


@kopf.index("apps", "v1", "deployments", labels={lbl.INFERENCE_SERVICE: kopf.PRESENT}, registry=REGISTRY)
async def server_deployments(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, labels[lbl.INFERENCE_SERVICE]): deployment_view(body)}


@kopf.index("", "v1", "pods", labels={lbl.INFERENCE_SERVICE: kopf.PRESENT}, registry=REGISTRY)
async def server_pods(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, labels[lbl.INFERENCE_SERVICE]): pod_view(body)}

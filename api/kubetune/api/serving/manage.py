"""InferenceServices for a project's REST clients: manifests from request bodies, reads from the cache.

Writes go through the caller's impersonated view (ctx.cluster), so Kubernetes RBAC decides; the
spec is validated with the resource's own model first, so bad input is a 422 naming the field and
nothing is half-written.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from kubetune.api import access
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.serving import InferenceServiceCreate, InferenceServiceRead
from kubetune.crd import labels as lbl
from kubetune.crd.autoscaling import Autoscaling
from kubetune.crd.base import URI_PATTERN
from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.kinds import INFERENCE_SERVICE

INFERENCE_PREFIX = "/api/v1/inference-services"
SOURCE = "serving"


def catalog_uri(ctx: AppContext, model: str) -> str | None:
    """The uri of a catalog model id, from any Trainer's catalog (the admin's models)."""
    for trainer in ctx.cache.trainers.all():
        for entry in meta.spec(trainer).get("models") or ():
            if entry.get("id") == model and entry.get("uri"):
                return str(entry["uri"])
    return None


def training_name(ctx: AppContext, ns: Obj, ref: str) -> str:
    namespace = meta.name(ns)
    found = ctx.cache.trainings.get(ref, namespace)
    if found is None and meta.is_number(ref):
        by_id = ctx.cache.trainings.by_id(int(ref))
        found = by_id if by_id is not None and meta.namespace(by_id) == namespace else None
    if found is None:
        raise ApiError(404, f"training {ref!r} not found in this project")
    return meta.name(found)


def _invalid(exc: ValidationError) -> ApiError:
    errors = exc.errors()
    where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
    message = str(errors[0]["msg"]) if errors else "invalid"
    return ApiError(422, f"{where}: {message}" if where else message,
                    details=[{"field": where, "message": message}])


def build_spec(ctx: AppContext, ns: Obj, body: InferenceServiceCreate) -> dict[str, Any]:
    """The InferenceService spec (wire shape) for a create request; ApiError 422/404 when it cannot be."""
    if (body.training is None) == (body.base_model is None):
        raise ApiError(422, "give exactly one of training or base_model")
    spec: dict[str, Any] = {"replicas": body.replicas, "auth": body.auth}
    if body.task:
        spec["task"] = body.task
    if body.training is not None:
        if body.adapters:
            raise ApiError(422, "adapters: only with base_model (a training serves its own adapter)")
        spec["trainingRef"] = {"name": training_name(ctx, ns, body.training)}
    else:
        model = str(body.base_model)
        uri = model if re.match(URI_PATTERN, model) else catalog_uri(ctx, model)
        if uri is None:
            raise ApiError(404, f"base_model {model!r} is neither a uri nor a catalog model id")
        spec["model"] = {"baseModel": uri,
                         "adapters": [{"name": name, "uri": u} for name, u in sorted(body.adapters.items())]}
    if body.autoscaling is not None:
        spec["autoscaling"] = body.autoscaling.model_dump(exclude_none=True)
    try:
        return InferenceServiceSpec.model_validate(spec).to_wire()
    except ValidationError as exc:
        raise _invalid(exc) from exc


def manifest(ns: Obj, body: InferenceServiceCreate, spec: dict[str, Any], owner: str) -> Obj:
    labels = {lbl.MANAGED_BY: "kubetune-api"}
    project = meta.labels(ns).get(lbl.PROJECT)
    if project:
        labels[lbl.PROJECT] = project
    return {"apiVersion": INFERENCE_SERVICE.api_version, "kind": INFERENCE_SERVICE.kind,
            "metadata": {"name": body.name, "namespace": meta.name(ns), "labels": labels,
                         "annotations": {lbl.SOURCE_API: SOURCE, lbl.OWNER: owner}},
            "spec": spec}


def scaled_spec(isvc: Obj, replicas: int | None, min_replicas: int | None, max_replicas: int | None) -> Obj:
    """The spec patch of a scale request: fixed replicas, or autoscaling bounds (checked by the model)."""
    spec = meta.spec(isvc)
    if replicas is None and min_replicas is None and max_replicas is None:
        raise ApiError(422, "give replicas, or min_replicas and/or max_replicas")
    if replicas is not None:
        if min_replicas is not None or max_replicas is not None:
            raise ApiError(422, "give replicas or autoscaling bounds, not both")
        if spec.get("autoscaling"):
            raise ApiError(409, "this service autoscales: change min_replicas/max_replicas instead")
        return {"replicas": replicas}
    current = dict(spec.get("autoscaling") or {})
    if min_replicas is not None:
        current["minReplicas"] = min_replicas
    if max_replicas is not None:
        current["maxReplicas"] = max_replicas
    try:
        return {"autoscaling": Autoscaling.model_validate(current).to_wire()}
    except ValidationError as exc:
        raise _invalid(exc) from exc


def read(ctx: AppContext, isvc: Obj) -> InferenceServiceRead:
    spec, st = meta.spec(isvc), meta.status(isvc)
    ns = ctx.cache.namespaces.get(meta.namespace(isvc))
    key = access.project_key(ns) if ns else meta.namespace(isvc)
    model = spec.get("model") or {}
    base = f"{INFERENCE_PREFIX}/{key}.{meta.name(isvc)}"
    managed = "platform" if meta.annotations_of(isvc).get(lbl.SOURCE_API) else "kubernetes"
    return InferenceServiceRead(
        id=meta.numeric_id(isvc) or None, name=meta.name(isvc),
        project_id=(meta.numeric_id(ns) or None) if ns else None,
        phase=st.get("phase") or "Pending", message=st.get("message"), base_model=model.get("baseModel"),
        adapters={a["name"]: a["uri"] for a in model.get("adapters") or ()},
        training=(spec.get("trainingRef") or {}).get("name"), task=spec.get("task") or "causal-lm",
        replicas=int(spec.get("replicas", 1)), ready_replicas=int(st.get("readyReplicas") or 0),
        autoscaling=spec.get("autoscaling"), suspended=bool(spec.get("suspend")),
        model_version=st.get("modelVersion"), inference_url=base, openai_base_url=f"{base}/v1",
        managed_by=managed, created_at=meta.created(isvc))

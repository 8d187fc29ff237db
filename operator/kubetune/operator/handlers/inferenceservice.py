# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""InferenceService -> Deployment + Service (+ PDB); waits for a referenced Training; status from children."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import kopf
from pydantic import ValidationError

from kubetune.crd import labels as lbl
from kubetune.crd.chains import Waiting
from kubetune.crd.inferenceservice import InferenceServiceSpec, ModelSource
from kubetune.crd.kinds import INFERENCE_SERVICE, TRAINING
from kubetune.crd.references import InvalidReference, is_training_uri
from kubetune.crd.serving_keys import new_client_key
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator import chains
from kubetune.operator import conditions as cnd
from kubetune.operator import scale_to_zero as stz
from kubetune.operator.autoscaler import apply_autoscaler
from kubetune.operator.builders.deployment import build_deployment
from kubetune.operator.builders.inferenceservice import build_inference_service
from kubetune.operator.builders.pdb import build_pdb
from kubetune.operator.builders.runconfig import ResolutionError, resolve_base_model
from kubetune.operator.builders.service import build_service, service_url
from kubetune.operator.builders.serving import MODEL_FINGERPRINT, ServedModel, next_model_version
from kubetune.operator.builders.serving_key import build_serving_key_secret
from kubetune.operator.builders.serving_runtime import (
    build_adapters_config_map,
    serving_runtime,
    vllm_settings_problem,
)
from kubetune.operator.handlers.common import REGISTRY, guarded, many, one, resource, runtime_of
from kubetune.operator.handlers.project_namespaces import is_project
from kubetune.operator.handlers.storage import ensure_artifact_claim, ensure_storage_secret
from kubetune.operator.handlers.training_status import owner_of as training_owner
from kubetune.operator.owner import Owner
from kubetune.operator.projects import NOT_A_PROJECT, RECHECK_SECONDS, not_a_project
from kubetune.operator.runtime import Runtime
from kubetune.operator.serve_into import merge_trained, served_by_updates, trained_adapters
from kubetune.operator.serving_phases import ServingState, serving_state
from kubetune.operator.validation import check_served_model

SPEC_HASH = lbl.SPEC_HASH


def isvc_owner(view: Mapping[str, Any]) -> Owner:
    return Owner(api_version=INFERENCE_SERVICE.api_version, kind=INFERENCE_SERVICE.kind, name=view["name"],
                 uid=view["uid"], namespace=view["namespace"], labels=view.get("labels") or {})


def isvc_view_of(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    return {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
            "generation": meta.get("generation"), "resourceVersion": meta.get("resourceVersion"),
            "labels": dict(meta.get("labels") or {}), "spec": dict(body.get("spec") or {}),
            "status": dict(body.get("status") or {}), **stz.activity_of(meta)}


def write_serving(rt: Runtime, view: Mapping[str, Any], state: ServingState,
                  extra: Mapping[str, Any] | None = None) -> bool:
    owner = isvc_owner(view)
    gen = view.get("generation")
    fields: dict[str, Any] = {
        "phase": state.phase,
        "message": state.message[:4096],
        "readyReplicas": state.ready_replicas,
        "conditions": [
            cnd.make("Ready", state.phase == "Ready", state.reason, state.message, gen),
            cnd.make("Failed", state.phase == "Failed", state.reason, state.message, gen),
            cnd.make("WaitingForTraining", state.reason == "WaitingForTraining", state.reason, state.message, gen),
            cnd.make("Pending", state.phase == "Pending", state.reason, state.message, gen),
        ],
        **(extra or {}),
    }
    reason = {"Ready": "Ready", "Loading": "Loading", "Failed": "Failed", "Stopped": "Stopped",
              "ScaledToZero": "ScaledToZero"}.get(state.phase, state.reason)
    return rt.status.write(INFERENCE_SERVICE, owner, view["status"], view.get("resourceVersion"), fields,
                           (reason, state.message, state.phase == "Failed"))


def served_model(rt: Runtime, view: Mapping[str, Any], spec: InferenceServiceSpec, training_views: Any,
                 trainer_specs: Any) -> ServedModel | ServingState:
    """What to serve, or the state that explains why there is nothing to serve yet."""
    if spec.model is not None:
        if is_training_uri(spec.model.base_model):
            return _chained_model(view["namespace"], spec, training_views, trainer_specs)
        return ServedModel.from_source(spec.model)
    assert spec.training_ref is not None
    ref = spec.training_ref.name
    training = one(training_views, (view["namespace"], ref))
    if training is None:
        return ServingState("Pending", "WaitingForTraining", f"waiting for Training {ref} (not found)")
    phase = (training["status"] or {}).get("phase") or "Pending"
    if phase != "Succeeded":
        return ServingState("Pending", "WaitingForTraining", f"waiting for Training {ref} to succeed (now {phase})")
    tspec = TrainingSpec.model_validate(training["spec"])
    if is_training_uri(tspec.base_model):  # a chain: its adapter sits on the chain's first weights
        chained = spec.model_copy(update={"model": ModelSource(base_model=f"training://{ref}")})
        return _chained_model(view["namespace"], chained, training_views, trainer_specs)
    trainer = one(trainer_specs, tspec.trainer_ref)
    try:
        base = resolve_base_model(tspec, TrainerSpec.model_validate(trainer["spec"])) if trainer else tspec.base_model
    except ResolutionError as exc:
        return ServingState("Failed", "InvalidTraining", str(exc))
    output = training["status"].get("output") or tspec.output or rt.settings.default_output(
        view["namespace"], ref)
    return ServedModel.from_training(ref, tspec.method, base, output)


def _chained_model(namespace: str, spec: InferenceServiceSpec, training_views: Any,
                   trainer_specs: Any) -> ServedModel | ServingState:
    """model.baseModel training://<name>[/checkpoints/<step>]: that Training's weights and adapter."""
    assert spec.model is not None
    try:
        found = chains.training_model(spec.model.base_model, namespace, training_views, trainer_specs,
                                      what="model.baseModel")
    except InvalidReference as exc:
        return ServingState("Failed", "InvalidReference", str(exc))
    if isinstance(found, Waiting):
        return ServingState("Pending", "WaitingForTraining", found.message)
    adapters = {a.name: a.uri for a in spec.model.adapters}
    if found.adapter is not None:
        adapters = {found.name: found.adapter, **adapters}
    return ServedModel(found.base_model, adapters)


def admin_uris(trainer_specs: Any) -> frozenset[str]:
    """Every catalog uri of every Trainer: the admin's models, servable from any project."""
    return frozenset(str(model.get("uri")) for store in trainer_specs.values() for trainer in store
                     for model in (trainer["spec"].get("models") or ()) if model.get("uri"))


def scales_to_zero(spec: InferenceServiceSpec) -> bool:
    return spec.autoscaling is not None and spec.autoscaling.scale_to_zero


def _hash(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def apply_children(rt: Runtime, view: Mapping[str, Any], spec: InferenceServiceSpec, model: ServedModel,
                   deployment: Mapping[str, Any] | None,
                   trusted: frozenset[str] = frozenset()) -> tuple[str, dict[str, Any] | None]:
    """Create or update the Deployment, Service and PDB; returns the model version now rolled out."""
    owner = isvc_owner(view)
    annotations = (deployment or {}).get("annotations") or {}
    version = next_model_version(annotations.get(lbl.MODEL_VERSION), annotations.get(MODEL_FINGERPRINT), model)
    current = deployment["replicas"] if deployment is not None else None
    idle = stz.is_idle(spec, view.get("annotations") or {}, view.get("created"), stz.now_utc(),
                       stz.ready_since(view.get("status") or {}), asleep=current == 0)
    desired = stz.desired_replicas(spec, current, idle)
    manifest = build_deployment(owner, spec, model, version, rt.settings, trusted, desired)
    # Replicas are written apart from the template (below): an autoscaler owns them between the
    # operator's own moves, and a hash over them would rewrite the Deployment on each of its decisions.
    digest = _hash({**manifest, "spec": {k: v for k, v in manifest["spec"].items() if k != "replicas"}})
    manifest["metadata"]["annotations"][SPEC_HASH] = digest
    rt.kube.create(build_service(owner, rt.settings))
    ensure_adapters(rt, owner, model)
    if deployment is None or annotations.get(SPEC_HASH) != digest:
        # Whenever the pod template is written: it mounts the key Secret (auth may have just changed).
        ensure_serving_key(rt, owner, spec)
    if deployment is None:
        if rt.kube.create(manifest) is None:
            rt.kube.patch("apps/v1", "Deployment", owner.namespace, manifest["metadata"]["name"],
                          {"metadata": {"annotations": manifest["metadata"]["annotations"]}, "spec": manifest["spec"]})
    elif annotations.get(SPEC_HASH) != digest:
        # A merge patch replaces lists whole: the pod template becomes exactly the built one.
        template = {k: v for k, v in manifest["spec"].items() if k != "replicas"}
        rt.kube.patch("apps/v1", "Deployment", owner.namespace, manifest["metadata"]["name"],
                      {"metadata": {"annotations": manifest["metadata"]["annotations"]}, "spec": template})
    replicas = stz.replicas_to_write(spec, current, desired)
    if deployment is not None and replicas is not None and replicas != current:
        rt.kube.patch("apps/v1", "Deployment", owner.namespace, manifest["metadata"]["name"],
                      {"spec": {"replicas": replicas}})
    apply_autoscaler(rt.kube, owner, spec, asleep=desired == 0, settings=rt.settings)
    pdb = build_pdb(owner, spec.autoscaling.min_replicas if spec.autoscaling else spec.replicas)
    if pdb is not None:
        rt.kube.create(pdb)
    else:
        rt.kube.delete("policy/v1", "PodDisruptionBudget", owner.namespace, lbl.server_deployment_name(owner.name))
    return version, manifest


def ensure_adapters(rt: Runtime, owner: Owner, model: ServedModel) -> None:
    """The adapters ConfigMap: created with the server, updated in place (the running server picks it up)."""
    config_map = build_adapters_config_map(owner, model)
    if rt.kube.create(config_map) is None:
        rt.kube.patch("v1", "ConfigMap", owner.namespace, config_map["metadata"]["name"],
                      {"data": config_map["data"]})


def ensure_serving_key(rt: Runtime, owner: Owner, spec: InferenceServiceSpec) -> None:
    """The server's key Secret, created once (409 = there already: keys are never rewritten behind a client)."""
    if spec.auth == "none":
        return
    secret = rt.settings.serving_key_secret
    rt.kube.create(build_serving_key_secret(owner, new_client_key(), secret.get_secret_value() if secret else None))


def reconcile_isvc(rt: Runtime, view: Mapping[str, Any], training_views: Any, trainer_specs: Any,
                   server_deployments: Any, server_pods: Any, outside_project: str | None = None) -> None:
    """`outside_project`: why the namespace cannot hold a server (projects.not_a_project), checked first."""
    namespace, name = view["namespace"], view["name"]
    try:
        spec = InferenceServiceSpec.model_validate(view["spec"])
    except ValidationError as exc:
        write_serving(rt, view, ServingState("Failed", "InvalidSpec", f"invalid spec: {exc}"))
        raise kopf.PermanentError(str(exc)) from exc
    if outside_project and one(server_deployments, (namespace, name)) is None:  # before any child is attempted
        write_serving(rt, view, ServingState("Pending", NOT_A_PROJECT, outside_project))
        raise kopf.TemporaryError(outside_project, delay=RECHECK_SECONDS)
    with rt.locks.hold(("isvc", namespace, name)):
        model = served_model(rt, view, spec, training_views, trainer_specs)
        not_loaded: list[str] = []
        if not isinstance(model, ServingState):
            model, not_loaded = merge_trained(model, trained_adapters(namespace, name, training_views, trainer_specs))
        trusted = admin_uris(trainer_specs)
        if not isinstance(model, ServingState):
            refused = check_served_model(model, namespace, rt.settings.reference_layout(trusted))
            if refused:  # before any server pod exists
                write_serving(rt, view, ServingState("Failed", "InvalidReference", "; ".join(refused)),
                              {"observedGeneration": view.get("generation")})
                raise kopf.PermanentError("; ".join(refused))
        if isinstance(model, ServingState):
            write_serving(rt, view, model, {"observedGeneration": view.get("generation")})
            return
        unfit = vllm_settings_problem(spec, rt.settings)
        if unfit:  # before any child: a server that cannot fit its pod would only crash-loop
            write_serving(rt, view, ServingState("Failed", "InvalidSpec", unfit),
                          {"observedGeneration": view.get("generation")})
            raise kopf.PermanentError(unfit)
        deployment = one(server_deployments, (namespace, name))
        problem = None
        if deployment is None:  # once, before the first server pod: not on every Training status event
            problem = ensure_storage_secret(rt, isvc_owner(view), "server") or ensure_artifact_claim(rt, namespace)
        if problem:
            write_serving(rt, view, ServingState("Pending", "StorageNotReady", problem))
            raise kopf.TemporaryError(problem, delay=30)
        version, _ = apply_children(rt, view, spec, model, deployment, trusted)
        mark_served(rt, namespace, name, model, training_views)
        state = serving_state(deployment, many(server_pods, (namespace, name)), spec.suspend, scales_to_zero(spec))
        if deployment is None or deployment["annotations"].get(lbl.MODEL_VERSION) != version:
            state = ServingState("Loading", "RollingOut", f"rolling out model version {version}",
                                 state.ready_replicas) if not spec.suspend else state
        if not_loaded:  # Trainings serving into this service whose adapter does not fit it
            state = replace(state, message="; ".join([state.message, *not_loaded]))
        write_serving(rt, view, state, {
            "url": service_url(name, namespace, rt.settings), "modelVersion": version,
            "runtime": serving_runtime(spec, rt.settings), "adapters": list(model.adapters),
            "deploymentName": lbl.server_deployment_name(name), "observedGeneration": view.get("generation"),
        })


def mark_served(rt: Runtime, namespace: str, name: str, model: ServedModel, training_views: Any) -> None:
    """Trainings serving into this service say so in status.inferenceService once their adapter is in it."""
    for training, value in served_by_updates(namespace, name, model.trained, training_views).items():
        found = one(training_views, (namespace, training))
        if found is not None:
            rt.status.write(TRAINING, training_owner(found), found["status"], found.get("resourceVersion"),
                            {"inferenceService": value})


def reconcile_isvc_by_name(rt: Runtime, namespace: str, name: str, isvc_views: Any, training_views: Any,
                           trainer_specs: Any, server_deployments: Any, server_pods: Any) -> None:
    view = one(isvc_views, (namespace, name))
    if view is not None:
        reconcile_isvc(rt, view, training_views, trainer_specs, server_deployments, server_pods)


def follow_into(rt: Runtime, namespace: str, names: list[str], isvc_views: Any, training_views: Any,
                trainer_specs: Any, server_deployments: Any, server_pods: Any) -> None:
    """Trainings serving into these services moved (serve_into.py): their adapters follow."""
    for isvc in names:
        reconcile_isvc_by_name(rt, namespace, isvc, isvc_views, training_views, trainer_specs, server_deployments,
                               server_pods)


def refresh_isvc(rt: Runtime, namespace: str, name: str, isvc_views: Any, server_deployments: Any,
                 server_pods: Any) -> None:
    """A Deployment or server pod changed: recompute the phase (no children are touched)."""
    with rt.locks.hold(("isvc", namespace, name)):
        view = one(isvc_views, (namespace, name))
        deployment = one(server_deployments, (namespace, name))
        if view is None or deployment is None:
            return
        spec = InferenceServiceSpec.model_validate(view["spec"])
        state = serving_state(deployment, many(server_pods, (namespace, name)), spec.suspend, scales_to_zero(spec))
        extra = {"modelVersion": deployment["annotations"].get(lbl.MODEL_VERSION)}
        write_serving(rt, view, state, extra)


def ensure_serving(rt: Runtime, training: Mapping[str, Any]) -> None:
    """Train -> serve: a succeeded Training with spec.serve.enabled gets its InferenceService."""
    spec = TrainingSpec.model_validate(training["spec"])
    if spec.serve is None or not spec.serve.enabled or (spec.hpo is not None and spec.hpo.enabled):
        return
    owner = training_owner(training)
    manifest = build_inference_service(owner, spec)
    isvc_name = manifest["metadata"]["name"]
    if training["status"].get("inferenceService") == isvc_name:
        return
    rt.kube.create(manifest)
    rt.status.write(TRAINING, owner, training["status"], training.get("resourceVersion"),
                    {"inferenceService": isvc_name})


@kopf.on.resume(*resource(INFERENCE_SERVICE), registry=REGISTRY)
@kopf.on.create(*resource(INFERENCE_SERVICE), registry=REGISTRY)
@kopf.on.update(*resource(INFERENCE_SERVICE), field="spec", registry=REGISTRY)
def isvc_reconcile(namespace: str, body: kopf.Body, memo: kopf.Memo, training_views: Any, trainer_specs: Any,
                   server_deployments: Any, server_pods: Any, project_namespaces: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    view = isvc_view_of(body)
    outside = not_a_project(namespace, is_project(project_namespaces, namespace), rt.settings.projects_only)
    guarded("InferenceService", rt, lambda: reconcile_isvc(
        rt, view, training_views, trainer_specs, server_deployments, server_pods, outside))


@kopf.on.event(*resource(INFERENCE_SERVICE), registry=REGISTRY)
async def isvc_deleted(type: str, namespace: str, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime_of(memo)
    if type == "DELETED":
        rt.status.forget(body["metadata"].get("uid", ""))
        rt.metrics.phases.forget(INFERENCE_SERVICE.kind, namespace, name)
        rt.locks.forget(("isvc", namespace, name))
    elif (body.get("status") or {}).get("phase"):
        rt.metrics.phases.set(INFERENCE_SERVICE.kind, namespace, name, body["status"]["phase"])

# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""Training -> ServiceAccount, Role, RoleBinding, run-config ConfigMap and Job; HPO and train -> serve."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import kopf
from pydantic import ValidationError

from kubetune.crd import labels as lbl
from kubetune.crd.chains import ChainModel, Waiting
from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.kinds import TRAINING
from kubetune.crd.references import InvalidReference, is_training_uri
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator import chains, shared_output
from kubetune.operator.builders import distributed, kueue
from kubetune.operator.builders.configmap import build_run_config_map
from kubetune.operator.builders.distributed import build_headless_service
from kubetune.operator.builders.job import build_job
from kubetune.operator.builders.rbac import build_role, build_role_binding, build_service_account
from kubetune.operator.builders.runconfig import ResolutionError, build_run_config
from kubetune.operator.handlers import gang as group
from kubetune.operator.handlers import hpo, queue_status
from kubetune.operator.handlers.common import REGISTRY, guarded, many, one, resource, runtime_of
from kubetune.operator.handlers.indexes import training_view
from kubetune.operator.handlers.inferenceservice import ensure_serving, follow_into, reconcile_isvc_by_name
from kubetune.operator.handlers.project_namespaces import is_project
from kubetune.operator.handlers.storage import ensure_artifact_claim, ensure_storage_secret
from kubetune.operator.handlers.training_status import (
    TERMINAL,
    owner_of,
    refresh_training,
    refresh_wanted,
    write_state,
)
from kubetune.operator.kube import ApiError
from kubetune.operator.observed import job_view
from kubetune.operator.phases import TrainingState, training_state
from kubetune.operator.projects import NOT_A_PROJECT, RECHECK_SECONDS, not_a_project
from kubetune.operator.runtime import Runtime
from kubetune.operator.serve_into import services_to_follow
from kubetune.operator.validation import catalog_uris, check_references, validate_training

# `into` below: kopf's patch of the Training being handled. Status written there goes out with
# kopf's own record in one PATCH when the handler returns (see kubetune.operator.bookkeeping).
Staged = MutableMapping[str, Any] | None


def fail(rt: Runtime, view: dict[str, Any], reason: str, message: str, into: Staged = None) -> kopf.PermanentError:
    """Phase Failed with the reason, an Event, and a permanent error: no Job, no crash loop."""
    write_state(rt, view, TrainingState("Failed", reason, message),
                {"observedGeneration": view.get("generation")}, into)
    return kopf.PermanentError(message)


def wait(rt: Runtime, view: dict[str, Any], reason: str, message: str, delay: float,
         into: Staged = None) -> kopf.TemporaryError:
    """Phase Pending with the reason; kopf retries after `delay`."""
    write_state(rt, view, TrainingState("Pending", reason, message), into=into)
    return kopf.TemporaryError(message, delay=delay)


def _dataset(spec: TrainingSpec, namespace: str, dataset_views: Any) -> tuple[DatasetSpec | None, str | None]:
    if spec.dataset.ref is None:
        return None, None
    found = one(dataset_views, (namespace, spec.dataset.ref.name))
    if found is None:
        return None, None
    return DatasetSpec.model_validate(found["spec"]), found.get("phase")


def refresh_run_config(rt: Runtime, config_map: dict[str, Any]) -> None:
    """Rewrite run.json after a spec change, so the next pod (first start or resume) reads the new spec.

    A pod already running read its config at start; the fields it must not see change (hyperparameters,
    task, method, base model) are immutable once the Training has started.
    """
    meta = config_map["metadata"]
    try:
        rt.kube.patch("v1", "ConfigMap", meta["namespace"], meta["name"], {"data": config_map["data"]})
    except ApiError as exc:
        if exc.status != 404:
            raise
        rt.kube.create(config_map)  # deleted by hand: put it back


def ensure_children(rt: Runtime, view: dict[str, Any], spec: TrainingSpec, trainer: TrainerSpec,
                    dataset: DatasetSpec | None, job: dict[str, Any] | None,
                    spec_changed: bool = False, into: Staged = None, chain: ChainModel | None = None) -> dict[str, Any]:
    """Create what is missing (409 = already there) and align the Job's suspend; returns the Job's view."""
    owner = owner_of(view)
    try:
        config = build_run_config(namespace=owner.namespace or "", name=owner.name, uid=owner.uid, spec=spec,
                                  trainer=trainer, dataset=dataset, settings=rt.settings, chain=chain)
    except ResolutionError as exc:
        raise fail(rt, view, "InvalidSpec", str(exc), into) from exc
    if group.waiting_for_previous(job):
        raise kopf.TemporaryError("waiting for the failed group's Job to be deleted", delay=2)
    base = rt.status.base(owner.uid, view["status"], view.get("resourceVersion"))
    # A Job made again (a group restart, or one deleted by hand) counts on from the attempts so far.
    manifest = build_job(owner, spec, trainer, rt.settings, config, attempts_before=int(base.get("attempts") or 0))
    queue = kueue.queue_of(spec.queue, owner.labels)
    # In a queue, the Job starts suspended and Kueue unsuspends it on admission (builders/kueue.py).
    manifest = kueue.with_queue(manifest, queue, spec.suspend)
    if job is not None and spec_changed:
        # Before the Job is unsuspended below: a resumed pod must read the new resumeFrom.
        refresh_run_config(rt, build_run_config_map(owner, config))
    if job is None:
        # Every node writes checkpoint shards into the output: refused before any Job if they cannot share it.
        refused = shared_output.check(config.distributed.nodes, config.output, owner.namespace or "", rt.settings,
                                      lambda ns, name: rt.kube.get("v1", "PersistentVolumeClaim", ns, name))
        if refused:
            raise fail(rt, view, shared_output.REASON, refused, into)
        problem = ensure_storage_secret(rt, owner, "trainer") or ensure_artifact_claim(rt, owner.namespace or "")
        if problem:  # the platform's configuration, not the user's spec: retry until it is fixed
            raise wait(rt, view, "StorageNotReady", problem, 30, into)
        # Side by side where nothing orders them. The RoleBinding waits for its Role: without the
        # bind verb, the API server lets the operator bind only a Role it can read and whose
        # rules it holds. The Job comes last, so that its pod finds all of them.
        list(rt.fanout.map(rt.kube.create, (build_service_account(owner), build_role(owner),
                                            build_run_config_map(owner, config))))
        rt.kube.create(build_role_binding(owner))
        if distributed.gang(config.distributed):  # the pods' names resolve before the first pod starts
            rt.kube.create(build_headless_service(owner, manifest["metadata"]["name"]))
        created = rt.kube.create(manifest)
        if created is None:  # 409: it exists; read it to see whose it is and whether it is suspended
            created = rt.kube.get("batch/v1", "Job", owner.namespace, manifest["metadata"]["name"])
            if created is None:
                raise kopf.TemporaryError("Job vanished while being adopted", delay=1)
        owners = [r.get("uid") for r in created["metadata"].get("ownerReferences") or ()]
        if owner.uid not in owners:
            raise kopf.TemporaryError("a Job of an earlier Training with this name is still being deleted", delay=5)
        job = {**job_view(created), "queue": kueue.job_queue(created["metadata"].get("labels"))}
    if queue is not None or job.get("queue"):
        # Kueue owns a queued Job's suspend: the user's stop and start go to its Workload instead.
        queue_status.align(rt, owner.namespace or "", job, queue or job["queue"], spec.suspend)
    elif job["suspend"] != spec.suspend:
        rt.kube.patch("batch/v1", "Job", owner.namespace, job["name"], {"spec": {"suspend": spec.suspend}})
        job = {**job, "suspend": spec.suspend}
    return job


def _chain(rt: Runtime, view: dict[str, Any], spec: TrainingSpec, training_views: Any, trainer_specs: Any,
           into: Staged) -> ChainModel | None:
    """A training:// base resolved to its weights and adapter; Pending until that Training has them."""
    if not is_training_uri(spec.base_model):
        return None
    try:
        found = chains.training_model(spec.base_model, view["namespace"], training_views, trainer_specs,
                                      referrer=view["name"])
    except InvalidReference as exc:
        raise fail(rt, view, "InvalidReference", str(exc), into) from exc
    if isinstance(found, Waiting):
        raise wait(rt, view, chains.WAITING_REASON, found.message, 10, into)
    return found


def reconcile_training(rt: Runtime, view: dict[str, Any], trainer_specs: Any, dataset_views: Any,
                       training_jobs: Any, training_pods: Any, trials_by_parent: Any, training_views: Any,
                       spec_changed: bool = False, into: Staged = None, outside_project: str | None = None) -> None:
    """Validate against the Trainer, then make sure the children exist and status says where things are.

    `outside_project`: why the namespace cannot hold children (projects.not_a_project), checked first.
    """
    namespace, name = view["namespace"], view["name"]
    try:
        spec = TrainingSpec.model_validate(view["spec"])
    except ValidationError as exc:
        raise fail(rt, view, "InvalidSpec", f"invalid spec: {exc}", into) from exc
    base = rt.status.base(view["uid"], view["status"], view.get("resourceVersion"))
    if base.get("phase") in TERMINAL and base.get("jobName"):
        return  # a finished run keeps its result; serving is handled on its status events
    # (A spec that failed validation never got a Job: a corrected spec is validated again.)
    started = base.get("jobName") or base.get("trials") or one(training_jobs, (namespace, name)) is not None
    if outside_project and not started:  # before anything is looked up or created: the API server would refuse it
        # (One that started while its namespace was a project keeps its phase from its children.)
        raise wait(rt, view, NOT_A_PROJECT, outside_project, RECHECK_SECONDS, into)
    found = one(trainer_specs, spec.trainer_ref)
    if found is None:
        raise wait(rt, view, "TrainerNotFound", f"Trainer {spec.trainer_ref} does not exist (yet)", 15, into)
    trainer = TrainerSpec.model_validate(found["spec"])
    dataset, dataset_phase = _dataset(spec, namespace, dataset_views)
    refused = check_references(spec, namespace, rt.settings.reference_layout(catalog_uris(trainer)),
                               dataset.uri if dataset is not None else None)
    if refused:  # before anything reads a file or a pod exists
        raise fail(rt, view, "InvalidReference", "; ".join(refused), into)
    if spec.dataset.ref is not None and dataset is None:  # GitOps applies files in any order: wait, do not fail
        raise wait(rt, view, "WaitingForDataset", f"Dataset {spec.dataset.ref.name} does not exist yet: the "
                   "training starts once it is created and validated", 10, into)
    if dataset is not None and dataset_phase in (None, "Pending", "Validating"):
        raise wait(rt, view, "WaitingForDataset", f"waiting for Dataset {spec.dataset.ref.name} "  # type: ignore[union-attr]
                   "to be validated", 5, into)
    if kueue.queue_of(spec.queue, view.get("labels")) and not rt.settings.kueue_enabled:
        raise fail(rt, view, "QueueUnavailable", queue_status.NOT_ENABLED, into)
    problems = validate_training(spec, trainer, dataset, dataset_phase)
    if problems:
        raise fail(rt, view, "ValidationFailed", "; ".join(problems), into)
    chain = _chain(rt, view, spec, training_views, trainer_specs, into)
    if spec.hpo is not None and spec.hpo.enabled:
        hpo.reconcile_parent(rt, view, spec, trials_by_parent, training_views)
        return
    with rt.locks.hold((namespace, name)):
        job = ensure_children(rt, view, spec, trainer, dataset, one(training_jobs, (namespace, name)), spec_changed,
                              into, chain)
        state = training_state(job, many(training_pods, (namespace, name)), suspend_requested=spec.suspend)
        state = kueue.queue_state(job, spec.suspend, state, rt.queue_waits.get((namespace, job["name"])))
        write_state(rt, view, state, {"jobName": job["name"], "observedGeneration": view.get("generation")}, into)


@kopf.on.resume(*resource(TRAINING), registry=REGISTRY)
@kopf.on.create(*resource(TRAINING), registry=REGISTRY)
@kopf.on.update(*resource(TRAINING), field="spec", registry=REGISTRY)
def training_reconcile(namespace: str, name: str, body: kopf.Body, memo: kopf.Memo, reason: kopf.Reason,
                       patch: kopf.Patch, trainer_specs: Any, dataset_views: Any, training_jobs: Any,
                       training_pods: Any, trials_by_parent: Any, training_views: Any, project_namespaces: Any,
                       **_: Any) -> None:
    rt = runtime_of(memo)
    view = training_view(body)
    spec_changed = reason == kopf.Reason.UPDATE
    outside = not_a_project(namespace, is_project(project_namespaces, namespace), rt.settings.projects_only)
    guarded("Training", rt, lambda: reconcile_training(
        rt, view, trainer_specs, dataset_views, training_jobs, training_pods, trials_by_parent, training_views,
        spec_changed, into=patch, outside_project=outside))


@kopf.on.event(*resource(TRAINING), registry=REGISTRY)
async def training_changed(type: str, namespace: str, name: str, body: kopf.Body, labels: kopf.Labels,
                           memo: kopf.Memo, training_views: Any, trials_by_parent: Any, isvcs_by_training: Any,
                           isvc_views: Any, trainer_specs: Any, server_deployments: Any, server_pods: Any,
                           training_jobs: Any, training_pods: Any, **_: Any) -> None:
    """A Training's status moved: its HPO parent, its InferenceServices and train -> serve follow.

    Decided in the event loop: most Training events concern none of them and cost no thread.
    """
    rt = runtime_of(memo)
    status = body.get("status") or {}
    phase = status.get("phase")
    # serve.into: the services this Training's adapter is (or is no longer) loaded into.
    into = services_to_follow(namespace, name, body.get("spec") or {}, phase, type == "DELETED", isvc_views)
    if type == "DELETED":
        rt.status.forget(body["metadata"].get("uid", ""))
        rt.metrics.phases.forget(TRAINING.kind, namespace, name)
        rt.locks.forget((namespace, name))
        if into:
            await asyncio.to_thread(guarded, "TrainingStatus", rt, lambda: follow_into(
                rt, namespace, into, isvc_views, training_views, trainer_specs, server_deployments, server_pods))
        return
    if phase:
        rt.metrics.phases.set(TRAINING.kind, namespace, name, phase)
    if refresh_wanted(rt, namespace, name, training_views, training_jobs, training_pods):
        # A Job or Pod event that came while the handler's status was still in kopf's patch.
        await asyncio.to_thread(guarded, "Training", rt, lambda: refresh_training(
            rt, namespace, name, training_views, training_jobs, training_pods))
    parent = labels.get(lbl.HPO_PARENT)
    isvcs = many(isvcs_by_training, (namespace, name))
    serve = (body.get("spec") or {}).get("serve") or {}
    unserved = phase == "Succeeded" and serve.get("enabled") and not status.get("inferenceService")
    if not (parent or isvcs or unserved or into):
        return
    view = training_view(body)

    def follow() -> None:
        if parent:
            hpo.refresh_parent(rt, namespace, parent, trials_by_parent, training_views)
        for isvc in isvcs:
            reconcile_isvc_by_name(rt, namespace, isvc, isvc_views, training_views, trainer_specs,
                                   server_deployments, server_pods)
        if unserved:
            ensure_serving(rt, view)
        follow_into(rt, namespace, [i for i in into if i not in isvcs], isvc_views, training_views, trainer_specs,
                    server_deployments, server_pods)

    await asyncio.to_thread(guarded, "TrainingStatus", rt, follow)

"""A Training's Job: the Trainer's image and command, the run config mounted, least-privilege account."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.references import is_training_uri, layout_env
from kubetune.crd.runconfig import RUN_CONFIG_DIR, RUN_CONFIG_PATH, TrainRunConfig
from kubetune.crd.tracking import tracking_env
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders import distributed, hub, podspec
from kubetune.operator.builders.storage import storage_env
from kubetune.operator.owner import Owner, child_metadata
from kubetune.operator.settings import Settings

TRAINER_CONTAINER = "trainer"
CONFIG_VOLUME = "run-config"
TERMINATION_LOG = "/dev/termination-log"


def training_env(owner: Owner, trainer: TrainerSpec, settings: Settings) -> list[dict[str, Any]]:
    """The Trainer's env first, then what kubetune sets (later entries win in Kubernetes)."""
    env: list[dict[str, Any]] = hub.without_token([e.to_wire() for e in trainer.env])
    env += storage_env(owner, settings)
    env += [
        {"name": "KUBETUNE_TRAINING_NAMESPACE", "value": owner.namespace or ""},
        {"name": "KUBETUNE_TRAINING_NAME", "value": owner.name},
        {"name": "KUBETUNE_RUN_CONFIG", "value": RUN_CONFIG_PATH},
        # Where the pod's pvc:// inputs are mounted (input_volumes); said here rather than left to the
        # image's default, so that any runtime (and the local node, which maps it) finds them.
        {"name": "KUBETUNE_PVC_ROOT", "value": podspec.PVC_ROOT},
        {"name": "KUBETUNE_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    return env


def trusted_uris(spec: TrainingSpec, config: TrainRunConfig | None) -> frozenset[str]:
    """A base model named by catalog id resolves to the admin's uri, trusted for reading; so does the
    base of a chain (training://), which the operator resolved from the first Training's own base."""
    if config is None or ("://" in spec.base_model and not is_training_uri(spec.base_model)):
        return frozenset()
    return frozenset({config.base_model})


def reference_env(spec: TrainingSpec, config: TrainRunConfig | None, namespace: str,
                  settings: Settings) -> list[dict[str, Any]]:
    """The layout the trainer re-checks every reference against; a catalog base model is the admin's."""
    return layout_env(settings.reference_layout(trusted_uris(spec, config)), namespace)


def backoff_limit(spec: TrainingSpec, settings: Settings) -> int:
    """Failed attempts allowed before the Training fails (pods of one Job, or groups of pods)."""
    return spec.backoff_limit if spec.backoff_limit is not None else settings.default_backoff_limit


def build_job(owner: Owner, spec: TrainingSpec, trainer: TrainerSpec, settings: Settings,
              config: TrainRunConfig | None = None, attempts_before: int = 0) -> dict[str, Any]:
    """The Job manifest. spec.suspend maps to Job.spec.suspend: stop keeps the Job and its checkpoints.

    The pod mounts its project's prefix of the store and, read-only, the PVCs its run config reads.
    """
    defaults = trainer.resources
    gpus, gpu_product, cpu, memory = podspec.merged_resources(
        spec.resources, defaults.gpus, defaults.gpu_product, defaults.cpu, defaults.memory
    )
    namespace = owner.namespace or ""
    volumes, mounts = podspec.artifact_volume(settings, namespace)
    if config is not None:
        extra_volumes, extra_mounts = podspec.input_volumes(
            [config.base_model, config.dataset.uri, *([config.adapter] if config.adapter else [])], settings,
            namespace, writable=[config.output])
        volumes, mounts = volumes + extra_volumes, mounts + extra_mounts
        mounts += podspec.catalog_mounts(trusted_uris(spec, config), settings, namespace)
    volumes.append({"name": CONFIG_VOLUME, "configMap": {"name": lbl.training_config_map_name(owner.name)}})
    mounts.append({"name": CONFIG_VOLUME, "mountPath": RUN_CONFIG_DIR, "readOnly": True})
    job_name = lbl.training_job_name(owner.name)
    spread = config.distributed if config is not None else distributed.resolve(spec, gpus)
    shm, shm_mount = distributed.shm_volume(spread, spec.distributed.shm_size if spec.distributed else None)
    cache_volumes, cache_mounts, cache_env = hub.model_cache(settings)
    volumes += [shm, *cache_volumes]
    mounts += [shm_mount, *cache_mounts]
    pod_labels = {lbl.TRAINING: owner.name, lbl.COMPONENT: "trainer", lbl.MANAGED_BY: lbl.MANAGER}
    container: dict[str, Any] = {
        "name": TRAINER_CONTAINER,
        "image": trainer.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": [*trainer.command, "--config", RUN_CONFIG_PATH],
        "env": [*training_env(owner, trainer, settings), *reference_env(spec, config, namespace, settings),
                *distributed.env(job_name, namespace, spread, owner.uid), *cache_env, *hub.token_env(spec, trainer),
                *tracking_env(spec.tracking)],
        "volumeMounts": mounts,
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": podspec.container_security(),
    }
    resources = podspec.container_resources(gpus, cpu, memory)
    if resources:
        container["resources"] = resources
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": lbl.training_service_account_name(owner.name),
        # The trainer patches its own status with this account's token.
        "automountServiceAccountToken": True,
        "securityContext": podspec.pod_security(settings),
        "containers": [container],
        "volumes": volumes,
        **podspec.scheduling(gpus, gpu_product, trainer.tolerations, trainer.priority_class_name),
    }
    if distributed.gang(spread):
        pod_spec["subdomain"] = job_name  # with the headless Service: pod i is <job>-i.<job>
    job_spec: dict[str, Any] = {
        "suspend": spec.suspend,
        **distributed.job_shape(job_name, spread, backoff_limit(spec, settings)),
        "podFailurePolicy": distributed.pod_failure_policy(TRAINER_CONTAINER),
        # A replacement pod starts only once the failed one is gone: never two holding the GPUs.
        "podReplacementPolicy": "Failed",
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    ttl = spec.ttl_seconds_after_finished
    if ttl is None:
        ttl = settings.default_ttl_seconds_after_finished
    if ttl is not None:
        job_spec["ttlSecondsAfterFinished"] = ttl
    metadata = child_metadata(owner, job_name, {lbl.TRAINING: owner.name, lbl.COMPONENT: "trainer"})
    if attempts_before:  # a group restart: the attempts of the Jobs before this one (handlers/gang.py)
        metadata.setdefault("annotations", {})[lbl.ATTEMPTS_BEFORE] = str(attempts_before)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}

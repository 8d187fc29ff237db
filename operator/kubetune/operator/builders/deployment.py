"""The inference server Deployment of an InferenceService: kubetune-serve configured through env."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd import serving_keys
from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.references import layout_env
from kubetune.operator.builders import podspec
from kubetune.operator.builders.serving import MODEL_FINGERPRINT, ServedModel
from kubetune.operator.builders.serving_runtime import adapters_volume, serving_runtime, vllm_env, vllm_volumes
from kubetune.operator.builders.storage import storage_env
from kubetune.operator.owner import Owner, child_metadata
from kubetune.operator.settings import Settings

SERVER_CONTAINER = "server"
API_KEYS_VOLUME = "api-keys"
API_KEYS_DIR = "/etc/kubetune/api-keys"
API_KEYS_FILE = "keys"
USER_KEYS_FILE = "user-keys"


def server_labels(name: str) -> dict[str, str]:
    """The selector shared by the Deployment, its pods, the Service and the PDB."""
    return {lbl.INFERENCE_SERVICE: name, lbl.COMPONENT: "server"}


def serve_env(
    spec: InferenceServiceSpec, model: ServedModel, version: str, settings: Settings
) -> list[dict[str, Any]]:
    """KUBETUNE_SERVE_* variables, the names kubetune-serve's settings read."""
    limits, cache = spec.limits, spec.cache
    values: dict[str, str] = {
        "MODEL_URI": model.base_model,
        # The adapters themselves come from the adapters ConfigMap (serving_runtime.py), loaded at run time.
        "DEFAULT_ADAPTER": model.default_adapter,
        "TASK": spec.task,
        "MODEL_VERSION": version,
        "MAX_CONCURRENT": str(limits.max_concurrent),
        "QUEUE_SIZE": str(limits.queue_size),
        "TIMEOUT_SECONDS": str(limits.timeout_seconds),
        "MAX_BATCH_SIZE": str(limits.max_batch_size),
        "MAX_BATCH_WAIT_MS": str(limits.max_batch_wait_ms),
        "CACHE_ENABLED": "true" if cache.enabled else "false",
        "CACHE_TTL_SECONDS": str(cache.ttl_seconds),
        "CACHE_MAX_ENTRIES": str(cache.max_entries),
        "PORT": str(settings.serve_port),
        # Where input_volumes mounts pvc:// models and adapters; explicit, as for the trainer (job.py).
        "PVC_MOUNT_ROOT": podspec.PVC_ROOT,
    }
    env: list[dict[str, Any]] = [{"name": f"KUBETUNE_SERVE_{k}", "value": v} for k, v in values.items()]
    if spec.auth == "apiKey":
        env.append({"name": "KUBETUNE_SERVE_API_KEY_FILE", "value": API_KEYS_DIR})
    env.append({"name": "KUBETUNE_SERVE_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    return env


def api_keys_volume(owner: Owner, spec: InferenceServiceSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The operator's key Secret (plus the user's apiKeys) as one directory, not a subPath: the kubelet
    then swaps in rotated keys. Nothing with auth none: the server then asks no caller for a key."""
    if spec.auth == "none":
        return [], []
    sources: list[dict[str, Any]] = [{"secret": {
        "name": serving_keys.secret_name(owner.name), "items": [{"key": serving_keys.KEYS_FILE_KEY,
                                                                 "path": API_KEYS_FILE}]}}]
    if spec.api_keys is not None:
        sources.append({"secret": {"name": spec.api_keys.name,
                                   "items": [{"key": spec.api_keys.key, "path": USER_KEYS_FILE}]}})
    volume = {"name": API_KEYS_VOLUME, "projected": {"sources": sources, "defaultMode": 0o440}}
    return [volume], [{"name": API_KEYS_VOLUME, "mountPath": API_KEYS_DIR, "readOnly": True}]


def build_deployment(
    owner: Owner, spec: InferenceServiceSpec, model: ServedModel, version: str, settings: Settings,
    trusted: frozenset[str] = frozenset(), replicas: int | None = None,
) -> dict[str, Any]:
    """Replicas follow spec.replicas (0 when suspended) unless given (autoscaling, scale to zero:
    kubetune.operator.scale_to_zero); the version annotation rolls pods on change.

    The server reads only: its project's prefix of the store and the PVCs it serves from, all read-only.
    ``trusted``: the admin's catalog uris it may serve from outside the project.
    """
    name = owner.name
    namespace = owner.namespace or ""
    gpus, gpu_product, cpu, memory = podspec.merged_resources(spec.resources, 0, None, None, None)
    volumes, mounts = podspec.artifact_volume(settings, namespace)
    mounts = [{**m, "readOnly": True} for m in mounts]
    input_volumes, input_mounts = podspec.input_volumes([model.base_model, *model.adapters.values()], settings,
                                                        namespace)
    volumes, mounts = volumes + input_volumes, mounts + input_mounts
    mounts += podspec.catalog_mounts(trusted & {model.base_model, *model.adapters.values()}, settings, namespace)
    key_volumes, key_mounts = api_keys_volume(owner, spec)
    volumes, mounts = volumes + key_volumes, mounts + key_mounts
    adapter_volumes, adapter_mounts, adapter_env = adapters_volume(owner)
    volumes, mounts = volumes + adapter_volumes, mounts + adapter_mounts
    runtime = serving_runtime(spec, settings)
    runtime_env: list[dict[str, Any]] = []
    image = spec.image or settings.runtime_image
    if runtime == "vllm":
        runtime_env = vllm_env(spec, settings, gpus, memory)
        shm_volumes, shm_mounts = vllm_volumes()
        volumes, mounts = volumes + shm_volumes, mounts + shm_mounts
        image = spec.image or settings.vllm_image
    probe_port = settings.serve_port
    container: dict[str, Any] = {
        "name": SERVER_CONTAINER,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(settings.serve_command),
        "env": [*storage_env(owner, settings), *serve_env(spec, model, version, settings), *adapter_env,
                *runtime_env,
                *layout_env(settings.reference_layout(trusted & {model.base_model, *model.adapters.values()}),
                            namespace)],
        "ports": [{"name": "http", "containerPort": probe_port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": probe_port},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": probe_port},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": podspec.container_security(),
    }
    resources = podspec.container_resources(gpus, cpu, memory)
    if resources:
        container["resources"] = resources
    selector = server_labels(name)
    meta = child_metadata(owner, lbl.server_deployment_name(name), selector)
    meta["annotations"] = {MODEL_FINGERPRINT: model.fingerprint(), lbl.MODEL_VERSION: version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas if replicas is not None else (0 if spec.suspend else spec.replicas),
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": {**selector, lbl.MANAGED_BY: lbl.MANAGER},
                    "annotations": {lbl.MODEL_VERSION: version},
                },
                "spec": {
                    "automountServiceAccountToken": False,  # the server never talks to the API
                    "securityContext": podspec.pod_security(settings),
                    "containers": [container],
                    "volumes": volumes,
                    **podspec.scheduling(gpus, gpu_product, [], None),
                },
            },
        },
    }

"""Label and annotation keys, and the deterministic names of child objects.

Every component (operator, facade, runtime, local node) uses these, so the
objects they create find each other without any state outside Kubernetes.
"""

from __future__ import annotations

import hashlib

PREFIX = "kubetune.io"

# Labels
PROJECT = f"{PREFIX}/project"  # on project Namespaces and every object in them: the project name
TASK = f"{PREFIX}/task"  # groups Trainings and InferenceServices (seed 001's task_id)
TRAINING = f"{PREFIX}/training"  # on every child of a Training: the Training's name
INFERENCE_SERVICE = f"{PREFIX}/inferenceservice"  # on every child of an InferenceService
HPO_PARENT = f"{PREFIX}/hpo-parent"  # on HPO trial Trainings: the parent Training's name
COMPONENT = "app.kubernetes.io/component"  # trainer | server
MANAGED_BY = "app.kubernetes.io/managed-by"  # kubetune-operator
MANAGER = "kubetune-operator"

# Annotations
NUMERIC_ID = f"{PREFIX}/id"  # seed 003's numeric id, allocated once and never reused
DESCRIPTION = f"{PREFIX}/description"
OWNER = f"{PREFIX}/owner"  # the user who created a project or training
SOURCE_API = f"{PREFIX}/source-api"  # which REST family created the object (sktai, finetune, ...)
MODEL_VERSION = f"{PREFIX}/model-version"  # on serving pods: the version they serve
DISPLAY_NAME = f"{PREFIX}/display-name"  # on project Namespaces: the name users typed (names are slugs)
MODEL_FINGERPRINT = f"{PREFIX}/model-fingerprint"  # on server Deployments: hash of what they serve
SPEC_HASH = f"{PREFIX}/spec-hash"  # on server Deployments: hash of the manifest last applied
STORAGE_KEY = f"{PREFIX}/storage-key"  # on Datasets uploaded through the API: their key under the project
ATTEMPTS_BEFORE = f"{PREFIX}/attempts-before"  # on a recreated training Job: attempts of the Jobs before it


def _short(name: str, suffix: str, limit: int = 63) -> str:
    """name-suffix, shortened with a stable hash when it would exceed the limit."""
    full = f"{name}-{suffix}"
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{name[: limit - len(suffix) - 10]}-{digest}-{suffix}"


def training_job_name(training: str) -> str:
    return _short(training, "train")


def training_service_account_name(training: str) -> str:
    return _short(training, "trainer")


def training_config_map_name(training: str) -> str:
    return _short(training, "run")


def storage_secret_name(owner: str) -> str:
    """The copy of the object-store credentials in a Training's (or InferenceService's) namespace."""
    return _short(owner, "storage")


def serving_key_secret_name(inference_service: str) -> str:
    """The API keys of an InferenceService's server (kubetune.crd.serving_keys)."""
    return _short(inference_service, "serving-key")


def training_inference_service_name(training: str) -> str:
    return _short(training, "serve")


def hpo_trial_name(parent: str, index: int) -> str:
    return _short(parent, f"trial-{index}")


def server_deployment_name(inference_service: str) -> str:
    return _short(inference_service, "server")


def server_service_name(inference_service: str) -> str:
    # The Service keeps the InferenceService's own name, so its DNS name is predictable.
    return inference_service

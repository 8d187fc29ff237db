"""What a training pod needs to fetch models: the Hugging Face token and the shared model cache."""

from __future__ import annotations

from typing import Any

from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.settings import Settings

TOKEN_ENV = "HF_TOKEN"  # noqa: S105  (the variable name, not a token)
CACHE_VOLUME = "model-cache"


def token_env(spec: TrainingSpec, trainer: TrainerSpec) -> list[dict[str, Any]]:
    """HF_TOKEN as a secretKeyRef (the Training's Secret, else the Trainer's): never a value in the spec.

    Not optional: a named Secret that is missing keeps the pod in CreateContainerConfigError, which
    the Training shows, rather than a gated download failing later with a vaguer message.
    """
    ref = spec.hf_token_secret or trainer.hf_token_secret
    if ref is None:
        return []
    return [{"name": TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}]


def without_token(env: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Trainer's plain env cannot set the token (a plain value would be readable by every viewer)."""
    return [e for e in env if e.get("name") != TOKEN_ENV]


def model_cache(settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts, env) of the shared model cache at HF_HOME; nothing when none is configured."""
    if settings.model_cache_pvc:
        source: dict[str, Any] = {"persistentVolumeClaim": {"claimName": settings.model_cache_pvc}}
    elif settings.model_cache_host_path:
        source = {"hostPath": {"path": settings.model_cache_host_path, "type": "DirectoryOrCreate"}}
    else:
        return [], [], []
    path = settings.model_cache_mount_path
    return ([{"name": CACHE_VOLUME, **source}], [{"name": CACHE_VOLUME, "mountPath": path}],
            [{"name": "HF_HOME", "value": path}])

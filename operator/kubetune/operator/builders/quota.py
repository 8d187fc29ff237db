"""A project's ResourceQuota and LimitRange: how much of the cluster one project may hold.

Pure functions of the chart's defaults (``ProjectQuota``, passed to the operator as JSON in
KUBETUNE_OPERATOR_PROJECT_QUOTA) and of an administrator's override, which the facade writes as
JSON into the project Namespace's ``kubetune.io/quota`` annotation (admin REST route). The
API server enforces the quota when a pod is created: a Training's Job whose pod would pass it
gets a FailedCreate "exceeded quota" Event, which the operator turns into Queued/QuotaExceeded
(phases.py), and the Job controller retries until the quota has room. HPO trials are Trainings
with their own pods, so ``parallelTrials`` x ``gpus`` counts against the same quota.

The LimitRange gives containers without requests a default: a quota on requests.cpu or
requests.memory refuses every pod that names none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from kubetune.crd import labels as lbl
from kubetune.crd.base import Quantity

QUOTA_NAME = "kubetune-project"
LIMIT_RANGE_NAME = "kubetune-project"
QUOTA_ANNOTATION = f"{lbl.PREFIX}/quota"
GPU_RESOURCE = "nvidia.com/gpu"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class QuotaLimits(_Model):
    """The hard limits of one project; null leaves a resource unlimited."""

    gpus: int | None = Field(default=None, ge=0, le=100000, description="GPUs requested at once (nvidia.com/gpu).")
    pods: int | None = Field(default=None, ge=0, le=100000, description="Pods at once (training and serving).")
    cpu: Quantity | None = Field(default=None, description="CPU requested at once, e.g. 64.")
    memory: Quantity | None = Field(default=None, description="Memory requested at once, e.g. 256Gi.")
    storage: Quantity | None = Field(default=None, description="Storage requested by PVCs, e.g. 1Ti.")
    persistent_volume_claims: int | None = Field(default=None, ge=0, le=100000, description="PVCs.")

    def hard(self) -> dict[str, str]:
        """The ResourceQuota's spec.hard."""
        pairs = {
            f"requests.{GPU_RESOURCE}": self.gpus, "pods": self.pods, "requests.cpu": self.cpu,
            "requests.memory": self.memory, "requests.storage": self.storage,
            "persistentvolumeclaims": self.persistent_volume_claims,
        }
        return {key: str(value) for key, value in pairs.items() if value is not None}

    def merged(self, override: QuotaLimits | None) -> QuotaLimits:
        """These defaults with an administrator's values on top (only the fields the override sets)."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_unset=True))


class ContainerDefaults(_Model):
    """Requests given to containers that name none (the LimitRange's defaultRequest)."""

    cpu: Quantity | None = Field(default="100m", description="Default CPU request.")
    memory: Quantity | None = Field(default="256Mi", description="Default memory request.")


class ProjectQuota(_Model):
    """What the chart tells the operator (values projectQuota)."""

    limits: QuotaLimits = Field(default_factory=QuotaLimits, description="Defaults for every project.")
    default_requests: ContainerDefaults = Field(default_factory=ContainerDefaults)


def override_of(namespace: Mapping[str, Any]) -> tuple[QuotaLimits | None, str | None]:
    """The administrator's override from the Namespace's annotation, and why it was ignored if it was."""
    raw = ((namespace.get("metadata") or {}).get("annotations") or {}).get(QUOTA_ANNOTATION)
    if not raw:
        return None, None
    try:
        return QuotaLimits.model_validate(json.loads(raw)), None
    except (ValueError, ValidationError) as exc:
        return None, f"annotation {QUOTA_ANNOTATION} ignored: {exc}"


def _metadata(namespace: str, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {lbl.MANAGED_BY: lbl.MANAGER}}


def build_resource_quota(namespace: str, limits: QuotaLimits) -> dict[str, Any] | None:
    """The project's ResourceQuota; None when every resource is unlimited."""
    hard = limits.hard()
    if not hard:
        return None
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _metadata(namespace, QUOTA_NAME),
            "spec": {"hard": hard}}


def build_limit_range(namespace: str, defaults: ContainerDefaults) -> dict[str, Any] | None:
    """Default container requests; None when the chart sets none."""
    request = {k: v for k, v in (("cpu", defaults.cpu), ("memory", defaults.memory)) if v is not None}
    if not request:
        return None
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _metadata(namespace, LIMIT_RANGE_NAME),
            "spec": {"limits": [{"type": "Container", "defaultRequest": request}]}}


def project_objects(namespace: Mapping[str, Any], quota: ProjectQuota) -> tuple[list[dict[str, Any]], str | None]:
    """(ResourceQuota and LimitRange to keep in the project, a warning about the override if any)."""
    name = namespace["metadata"]["name"]
    override, warning = override_of(namespace)
    objects = [build_resource_quota(name, quota.limits.merged(override)),
               build_limit_range(name, quota.default_requests)]
    return [o for o in objects if o is not None], warning


def quota_refusal(event: Mapping[str, Any]) -> str | None:
    """The message of a Job's FailedCreate Event when the pod was refused by a ResourceQuota."""
    if event.get("reason") != "FailedCreate" or (event.get("involvedObject") or {}).get("kind") != "Job":
        return None
    message = str(event.get("message") or "")
    return message if "exceeded quota" in message else None

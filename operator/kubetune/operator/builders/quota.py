"""A project's ResourceQuota and LimitRange: how much of the cluster one project may hold.

Pure functions of the chart's defaults (``ProjectQuota``, passed to the operator as JSON in
KUBETUNE_OPERATOR_PROJECT_QUOTA) and of an administrator's override, which the facade writes into a
ConfigMap in the platform's namespace (kubetune.crd.project_quota; admin REST route). The
API server enforces the quota when a pod is created: a Training's Job whose pod would pass it
gets a FailedCreate "exceeded quota" Event, which the operator turns into Queued/QuotaExceeded
(phases.py), and the Job controller retries until the quota has room. HPO trials are Trainings
with their own pods, so ``parallelTrials`` x ``gpus`` counts against the same quota.

The LimitRange gives containers without requests a default: a quota on requests.cpu or
requests.memory refuses every pod that names none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kubetune.crd import labels as lbl
from kubetune.crd.base import Quantity
from kubetune.crd.project_quota import QUOTA_NAME, QuotaLimits, override_config_map_name, override_of

__all__ = [
    "QUOTA_NAME",
    "ContainerDefaults",
    "ProjectQuota",
    "QuotaLimits",
    "build_limit_range",
    "build_resource_quota",
    "override_config_map_name",
    "override_of",
    "project_objects",
    "quota_refusal",
]

LIMIT_RANGE_NAME = "kubetune-project"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ContainerDefaults(_Model):
    """Requests given to containers that name none (the LimitRange's defaultRequest)."""

    cpu: Quantity | None = Field(default="100m", description="Default CPU request.")
    memory: Quantity | None = Field(default="256Mi", description="Default memory request.")


class ProjectQuota(_Model):
    """What the chart tells the operator (values projectQuota)."""

    limits: QuotaLimits = Field(default_factory=QuotaLimits, description="Defaults for every project.")
    default_requests: ContainerDefaults = Field(default_factory=ContainerDefaults)


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


def project_objects(namespace: str, quota: ProjectQuota,
                    override: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
    """(ResourceQuota and LimitRange to keep in the project, a warning about the override if any).

    override: the project's override ConfigMap (kubetune.crd.project_quota), or None.
    """
    limits, warning = override_of(override)
    objects = [build_resource_quota(namespace, quota.limits.merged(limits)),
               build_limit_range(namespace, quota.default_requests)]
    return [o for o in objects if o is not None], warning


def quota_refusal(event: Mapping[str, Any]) -> str | None:
    """The message of a Job's FailedCreate Event when the pod was refused by a ResourceQuota."""
    if event.get("reason") != "FailedCreate" or (event.get("involvedObject") or {}).get("kind") != "Job":
        return None
    message = str(event.get("message") or "")
    return message if "exceeded quota" in message else None

"""A project's quota as the facade and the operator both speak it.

The chart gives every project the same limits (the operator's ProjectQuota, builders/quota.py); an
administrator changes one project's through the facade (PUT /api/v1/admin/projects/{id}/quota),
which writes the fields it sets as JSON into a ConfigMap ``kubetune-quota-<namespace>`` in the
platform's own namespace, then stamps the project Namespace's ``kubetune.io/quota-revision``
annotation so the operator re-applies at once. The operator merges the ConfigMap over the chart's
limits into the project's ResourceQuota.

Not an annotation on the Namespace itself: a project's admins may patch their own Namespace, and
would raise their own quota. They cannot write in the platform's namespace; the revision stamp only
makes the operator read the ConfigMap again.
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
REVISION_ANNOTATION = f"{lbl.PREFIX}/quota-revision"
OVERRIDE_KEY = "limits"
GPU_RESOURCE = "nvidia.com/gpu"


def override_config_map_name(namespace: str) -> str:
    """The ConfigMap, in the platform's namespace, holding one project's override."""
    return f"kubetune-quota-{namespace}"


# The largest count a quota may name (GPUs, pods, PVCs); the chart's values share it.
MAX_QUOTA_COUNT = 100_000


class QuotaFields(BaseModel):
    """The limits a project's quota may set, once for both spellings: snake_case here (the facade's REST
    body, api/kubetune/api/schemas/quota.py), camelCase in QuotaLimits (the chart's JSON and the ConfigMap)."""

    model_config = ConfigDict(extra="forbid")
    gpus: int | None = Field(default=None, ge=0, le=MAX_QUOTA_COUNT,
                             description="GPUs requested at once (nvidia.com/gpu).")
    pods: int | None = Field(default=None, ge=0, le=MAX_QUOTA_COUNT, description="Pods at once (training and serving).")
    cpu: Quantity | None = Field(default=None, description="CPU requested at once, e.g. 64.")
    memory: Quantity | None = Field(default=None, description="Memory requested at once, e.g. 256Gi.")
    storage: Quantity | None = Field(default=None, description="Storage requested by PVCs, e.g. 1Ti.")
    persistent_volume_claims: int | None = Field(default=None, ge=0, le=MAX_QUOTA_COUNT, description="PVCs.")


class QuotaLimits(QuotaFields):
    """The hard limits of one project; null leaves a resource unlimited."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

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


def override_of(config_map: Mapping[str, Any] | None) -> tuple[QuotaLimits | None, str | None]:
    """The administrator's override from the project's ConfigMap, and why it was ignored if it was."""
    raw = ((config_map or {}).get("data") or {}).get(OVERRIDE_KEY)
    if not raw:
        return None, None
    try:
        return QuotaLimits.model_validate(json.loads(raw)), None
    except (ValueError, ValidationError) as exc:
        name = ((config_map or {}).get("metadata") or {}).get("name", "the override ConfigMap")
        return None, f"ConfigMap {name}, key {OVERRIDE_KEY}, ignored: {exc}"

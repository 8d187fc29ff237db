"""Request and response models of the admin quota route (a project's ResourceQuota)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kubetune.crd.base import Quantity


class ProjectQuotaUpdate(BaseModel):
    """The project's limits, replacing earlier ones; a field left out keeps the chart's default, null lifts it."""

    model_config = ConfigDict(extra="forbid")
    gpus: int | None = Field(default=None, ge=0, le=100000, description="GPUs requested at once.")
    pods: int | None = Field(default=None, ge=0, le=100000, description="Pods at once, training and serving.")
    cpu: Quantity | None = Field(default=None, description="CPU requested at once, e.g. 64.")
    memory: Quantity | None = Field(default=None, description="Memory requested at once, e.g. 256Gi.")
    storage: Quantity | None = Field(default=None, description="Storage requested by PVCs, e.g. 1Ti.")
    persistent_volume_claims: int | None = Field(default=None, ge=0, le=100000, description="PVCs.")


class ProjectQuotaRead(BaseModel):
    project_id: int | None = Field(description="The project's numeric id.")
    project_key: str
    overrides: dict[str, int | str | None] = Field(
        description="What an administrator set for this project; empty: the chart's defaults apply.")
    hard: dict[str, str] | None = Field(
        description="The limits Kubernetes enforces (the ResourceQuota's status); null until it exists.")
    used: dict[str, str] | None = Field(description="What the project holds now, as Kubernetes counts it.")

"""Request and response models of the admin quota route (a project's ResourceQuota)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kubetune.crd.project_quota import QuotaFields


class ProjectQuotaUpdate(QuotaFields):
    """The project's limits, replacing earlier ones; a field left out keeps the chart's default, null lifts it."""


class ProjectQuotaRead(BaseModel):
    project_id: int | None = Field(description="The project's numeric id.")
    project_key: str
    overrides: dict[str, int | str | None] = Field(
        description="What an administrator set for this project; empty: the chart's defaults apply.")
    hard: dict[str, str] | None = Field(
        description="The limits Kubernetes enforces (the ResourceQuota's status); null until it exists.")
    used: dict[str, str] | None = Field(description="What the project holds now, as Kubernetes counts it.")

"""The facade's own routes managing a project's InferenceServices (docs/api.md, "Serving")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kubetune.crd.base import DNS1123


class AutoscalingBody(BaseModel):
    """spec.autoscaling in snake case; bounds and rules are the resource's own (kubetune.crd.autoscaling)."""

    model_config = ConfigDict(extra="forbid")
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_concurrency: int | None = None
    target_queue_depth: int | None = None
    target_cpu_utilization: int | None = None
    scale_to_zero: bool | None = None
    idle_seconds: int | None = None


class InferenceServiceCreate(BaseModel):
    """Serve a Training's output (`training`) or a base model (`base_model`, plus optional adapters)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=DNS1123, min_length=1, max_length=40,
                      description="The InferenceService's name (its children add suffixes, hence 40).")
    training: str | None = Field(default=None, max_length=253,
                                 description="A Training of the project, by name or numeric id.")
    base_model: str | None = Field(default=None, max_length=1024,
                                   description="A model uri (hf://, pvc://, s3://, file://) or a catalog model id.")
    adapters: dict[str, str] = Field(default_factory=dict, description="LoRA adapters by name: uri.")
    task: Literal["causal-lm", "sequence-classification", "image-classification"] | None = None
    replicas: int = Field(default=1, ge=0, le=100)
    autoscaling: AutoscalingBody | None = None
    auth: Literal["apiKey", "none"] = "apiKey"


class ScaleRequest(BaseModel):
    """Either a fixed replica count, or new autoscaling bounds."""

    model_config = ConfigDict(extra="forbid")
    replicas: int | None = Field(default=None, ge=0, le=100)
    min_replicas: int | None = Field(default=None, ge=1, le=100)
    max_replicas: int | None = Field(default=None, ge=1, le=100)


class InferenceServiceRead(BaseModel):
    id: int | None = Field(description="Seed 003's numeric id (assigned shortly after creation).")
    name: str
    project_id: int | None
    phase: str = Field(description="The resource's phase: Pending, Loading, Ready, ScaledToZero, Stopped, Failed.")
    message: str | None = None
    base_model: str | None = None
    adapters: dict[str, str] = Field(default_factory=dict)
    training: str | None = None
    task: str
    replicas: int
    ready_replicas: int
    autoscaling: dict[str, Any] | None = None
    suspended: bool
    model_version: str | None = None
    inference_url: str = Field(description="The facade's pass-through to this service's server (seed 002).")
    openai_base_url: str = Field(description="base_url for the openai SDK: this service's /v1 routes.")
    managed_by: Literal["platform", "kubernetes"] = Field(
        description="platform: created through the facade; kubernetes: created with kubectl or GitOps.")
    created_at: datetime


class InferenceServiceList(BaseModel):
    items: list[InferenceServiceRead]
    total: int

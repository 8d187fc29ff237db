"""Seed 000 (SKTAI fine-tuning) DTOs. The seed names them without fields; these fields are ours."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kubetune.crd.base import LabelValue, Quantity
from kubetune.crd.bounds import MAX_METRICS, MAX_PARAMETERS, MetricName, MetricValue

SktaiStatus = Literal["pending", "queued", "running", "stopping", "stopped", "completed", "failed"]


class Pagination(BaseModel):
    page: int = Field(description="1-based page number.")
    size: int
    total: int
    total_pages: int


class ResourceSpec(BaseModel):
    """The Training's resources, with the CRD's own rules: a value the child Job would be refused is a 422 here."""

    model_config = ConfigDict(extra="forbid")
    gpus: int | None = Field(default=None, ge=0, le=16)
    gpu_type: LabelValue | None = None
    cpu: Quantity | None = None
    memory: Quantity | None = None


class ProgressRead(BaseModel):
    step: int = 0
    total_steps: int = 0
    epoch: float = 0
    percent: float = 0
    eta_seconds: float | None = None
    tokens_per_second: float | None = None


class TrainingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=256, description="Display name.")
    description: str | None = Field(default=None, max_length=4096)
    project_id: str | None = Field(default=None, max_length=128, description="Project key or numeric id; the "
                                                                          "caller's only project when omitted.")
    task_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
    trainer_id: str | None = Field(default=None, max_length=253,
                                   description="Trainer id or name; the platform default if omitted.")
    base_model: str = Field(min_length=1, max_length=1024, description="Catalog model id, hub name or uri.")
    dataset_id: str | None = Field(default=None, max_length=253, description="Dataset id (uid), numeric id or name.")
    dataset_path: str | None = Field(default=None, max_length=1024, description="Storage key under the project.")
    dataset_format: str | None = Field(default=None, max_length=64)
    data_strategy: str | None = Field(default=None, max_length=64)
    system_message: str | None = Field(default=None, max_length=16384)
    thinking_instructions: str | None = Field(default=None, max_length=16384)
    method: Literal["lora", "qlora", "full"] | None = None
    task: Literal["causal-lm", "sequence-classification", "image-classification"] | None = None
    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PARAMETERS, description="Hyperparameters.")
    resource: ResourceSpec | None = None
    hpo: dict[str, Any] | None = Field(default=None, max_length=16,
                                       description="Hyperparameter search (Training spec.hpo).")
    serve: bool | None = Field(default=None, description="Serve the result; the platform default if omitted.")


class TrainingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4096)
    task_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
    params: dict[str, Any] | None = Field(default=None, max_length=MAX_PARAMETERS)
    resource: ResourceSpec | None = None
    serve: bool | None = None


class TrainingRead(BaseModel):
    id: str = Field(description="Stable id (the Training's uid).")
    numeric_id: int | None = Field(description="Seed 003's numeric id of the same Training.")
    name: str
    resource_name: str = Field(description="metadata.name of the Training.")
    description: str | None
    project_id: str
    task_id: str | None
    status: SktaiStatus
    phase: str | None
    message: str | None
    trainer_id: str
    trainer_name: str
    base_model: str
    method: str
    task: str
    dataset: dict[str, Any]
    params: dict[str, Any]
    resource: dict[str, Any] | None
    progress: ProgressRead
    metrics: dict[str, float]
    output_uri: str | None
    serve: bool
    inference_service: str | None
    tracking_url: str | None = Field(default=None, description="The run in MLflow (status.trackingUrl), when "
                                     "spec.tracking logged it.")
    suspended: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TrainingsRead(BaseModel):
    data: list[TrainingRead]
    pagination: Pagination


class TrainingStatusRead(BaseModel):
    id: str
    status: SktaiStatus
    phase: str | None
    message: str | None
    progress: ProgressRead
    metrics: dict[str, float]
    conditions: list[dict[str, Any]]
    attempts: int | None
    started_at: datetime | None
    finished_at: datetime | None


class TrainingEvent(BaseModel):
    id: str = Field(description="Event id; also the SSE id, usable as Last-Event-ID.")
    training_id: str
    type: str = Field(description="Normal or Warning for Kubernetes Events; Status for transitions.")
    reason: str
    message: str
    count: int = 1
    source: str
    created_at: datetime


class TrainingEventsRead(BaseModel):
    data: list[TrainingEvent]
    pagination: Pagination


class GpuCallback(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # JSON cannot carry NaN into status
    index: int = Field(ge=0, le=255)
    name: str = Field(default="", max_length=128)
    utilization_percent: float | None = None
    memory_used_mb: float | None = None
    memory_total_mb: float | None = None
    temperature_c: float | None = None
    power_watts: float | None = None


class TrainingTaskCallback(BaseModel):
    """Written into the Training's status: every field bounded as the CRD bounds it (kubetune.crd.bounds)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    step: int = Field(ge=0)
    total_steps: int | None = Field(default=None, ge=0)
    epoch: float | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)
    eta_seconds: float | None = Field(default=None, ge=0)
    tokens_per_second: float | None = Field(default=None, ge=0)
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    metrics: dict[MetricName, MetricValue] = Field(
        default_factory=dict, max_length=MAX_METRICS,
        description=f"Latest values; a Training keeps at most {MAX_METRICS} metric names in all.")
    gpu: list[GpuCallback] | None = Field(default=None, max_length=16)


class TrainingMetricCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")
    value: float = Field(allow_inf_nan=False)
    step: int | None = Field(default=None, ge=0)
    epoch: float | None = Field(default=None, ge=0)


class TrainingMetricRead(BaseModel):
    id: str
    training_id: str
    name: str
    value: float
    step: int | None
    epoch: float | None
    source: Literal["trainer", "api"] = Field(description="trainer-reported metrics are read-only.")
    created_at: datetime | None
    updated_at: datetime | None = None


class TrainingMetricsRead(BaseModel):
    data: list[TrainingMetricRead]
    pagination: Pagination


class ParameterRead(BaseModel):
    name: str
    type: str
    description: str = ""
    default: float | int | str | bool | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] | None = None


class CatalogModelRead(BaseModel):
    id: str
    name: str
    uri: str
    size: str = ""
    type: str = "base"
    provider: str = ""
    task: str = "causal-lm"


class TrainerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    display_name: str = Field(default="", max_length=128)
    description: str = Field(default="", max_length=2048)
    image: str = Field(min_length=1, max_length=512)
    command: list[Annotated[str, Field(max_length=4096)]] | None = Field(default=None, max_length=64)
    tasks: list[Literal["causal-lm", "sequence-classification", "image-classification"]] = Field(min_length=1)
    methods: list[Literal["lora", "qlora", "full"]] = Field(min_length=1)
    parameters: list[ParameterRead] = Field(default_factory=list, max_length=MAX_PARAMETERS)
    models: list[CatalogModelRead] = Field(default_factory=list, max_length=256)
    resources: dict[str, Any] | None = Field(default=None, max_length=16)


class TrainerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=128)
    description: str | None = Field(default=None, max_length=2048)
    image: str | None = Field(default=None, min_length=1, max_length=512)
    command: list[Annotated[str, Field(max_length=4096)]] | None = Field(default=None, max_length=64)
    tasks: list[Literal["causal-lm", "sequence-classification", "image-classification"]] | None = None
    methods: list[Literal["lora", "qlora", "full"]] | None = None
    parameters: list[ParameterRead] | None = Field(default=None, max_length=MAX_PARAMETERS)
    models: list[CatalogModelRead] | None = Field(default=None, max_length=256)
    resources: dict[str, Any] | None = Field(default=None, max_length=16)


class TrainerRead(BaseModel):
    id: str
    name: str
    display_name: str
    description: str
    image: str
    command: list[str]
    tasks: list[str]
    methods: list[str]
    parameters: list[ParameterRead]
    models: list[CatalogModelRead]
    resources: dict[str, Any]
    trainings: int
    created_at: datetime
    updated_at: datetime


class TrainersRead(BaseModel):
    data: list[TrainerRead]
    pagination: Pagination

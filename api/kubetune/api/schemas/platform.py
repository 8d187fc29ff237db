"""Seed 003 (AI Platform) request and response models, fields as the seed shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status4 = Literal["pending", "running", "completed", "failed"]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class UserRead(BaseModel):
    id: int
    username: str
    email: str
    is_active: bool
    is_admin: bool = False
    created_at: datetime


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4096)


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4096)
    owner_id: int | None = Field(default=None, description="Admins only: hand the project to another user.")


class ProjectRead(BaseModel):
    id: int
    name: str
    description: str | None
    owner_id: int | None
    status: Literal["active", "terminating"]
    created_at: datetime
    key: str = Field(description="Short project name (namespace label); seeds 001 and 004 accept it too.")
    namespace: str


class ProjectList(BaseModel):
    total: int
    projects: list[ProjectRead]


class TaskRead(BaseModel):
    id: int
    name: str
    type: Literal["training", "inference"]
    project_id: int | None
    status: Status4
    progress: float
    created_at: datetime


class TaskList(BaseModel):
    total: int
    tasks: list[TaskRead]


class DatasetRead(BaseModel):
    id: int
    name: str
    description: str
    project_id: int | None
    format: str
    size: int | None
    row_count: int | None
    status: str
    created_at: datetime
    path: str | None = Field(default=None, description="Storage key under the project (seed 001 paths).")


class DatasetList(BaseModel):
    total: int
    datasets: list[DatasetRead]


class ModelRead(BaseModel):
    id: int | str = Field(description="Numeric id of a fine-tuned model, or the catalog id of a base model.")
    name: str
    base_model: str
    framework: str = "transformers"
    size: str
    status: str
    metrics: dict[str, float | None] = Field(default_factory=dict)
    project_id: int | None = None


class ModelList(BaseModel):
    total: int
    models: list[ModelRead]


class GpuMetric(BaseModel):
    gpu_id: int
    name: str
    total_memory_mb: float
    used_memory_mb: float
    utilization_percent: float
    temperature_c: float | None
    power_watts: float | None
    node: str | None = None
    training: str | None = None


class GpuNode(BaseModel):
    name: str
    capacity: int = Field(description="The node's nvidia.com/gpu capacity.")
    allocatable: int = Field(description="The node's nvidia.com/gpu allocatable.")
    allocated: int = Field(description="GPUs requested by the pods bound to the node (any namespace).")
    available: int = Field(default=0, description="allocatable - allocated, never below 0.")
    product: str | None = None


class GpuStatus(BaseModel):
    total_gpus: int
    allocated_gpus: int = Field(default=0, description="GPUs requested by running and bound pending pods.")
    total_memory_mb: float
    used_memory_mb: float
    avg_utilization: float
    metrics: list[GpuMetric]
    nodes: list[GpuNode] = Field(default_factory=list)


class LossPoint(BaseModel):
    step: int
    loss: float | None
    epoch: float | None
    eval_loss: float | None = None


class LossMetrics(BaseModel):
    initial_loss: float | None
    final_loss: float | None
    best_loss: float | None


class LossCurve(BaseModel):
    experiment_id: str
    total_steps: int
    metrics: LossMetrics
    data: list[LossPoint]


class TrainingModel(BaseModel):
    id: str
    name: str
    provider: str
    size: str
    type: str


class TrainingModels(BaseModel):
    models: list[TrainingModel]


class Template(BaseModel):
    id: str
    name: str
    description: str
    min_gpu_memory: str | None
    methods: list[str] = Field(default_factory=list)
    parameters: list[dict[str, Any]] = Field(default_factory=list)


class Templates(BaseModel):
    templates: list[Template]


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: str = Field(min_length=1, max_length=1024)
    dataset_id: int = Field(ge=1)
    template_id: str = Field(min_length=1, max_length=63)
    project_id: int = Field(ge=1)
    experiment_name: str = Field(min_length=1, max_length=256)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, max_length=64)
    serve: bool | None = Field(default=None, description="Serve the result; the platform default when omitted.")


class SubmitResponse(BaseModel):
    id: int
    name: str
    experiment_name: str
    project_id: int | None
    status: Status4
    created_at: datetime
    message: str


class InferenceModel(BaseModel):
    id: str
    name: str
    provider: str
    size: str
    status: str


class InferenceModels(BaseModel):
    models: list[InferenceModel]


class GenerateRequest(BaseModel):
    model_id: str = Field(min_length=1, max_length=256)
    prompt: str = Field(min_length=1, max_length=200_000)
    max_tokens: int = Field(default=512, ge=1, le=32768)
    temperature: float = Field(default=0.7, ge=0, le=5)
    top_p: float = Field(default=0.9, gt=0, le=1)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class GenerateResponse(BaseModel):
    id: str
    model: str
    prompt: str
    output: str
    usage: Usage
    latency_ms: float


class SystemSettings(BaseModel):
    site_name: str
    site_description: str
    version: str
    language: str
    theme: str
    features: dict[str, bool]


class StorageSettings(BaseModel):
    max_dataset_size_gb: float
    max_model_size_gb: float
    default_storage_path: str
    used_storage_gb: float
    total_storage_gb: float | None

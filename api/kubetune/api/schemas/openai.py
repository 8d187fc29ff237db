"""The OpenAI fine-tuning API's objects (files, jobs, events, checkpoints, models), field for field.

Shapes follow the OpenAI Python SDK's types (openai.types.file_object, openai.types.fine_tuning), so the
unmodified SDK parses every response. Requests accept what OpenAI documents plus, in `hyperparameters`,
kubetune's own typed hyperparameters (docs/openai.md); anything else is a 400.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Auto = Literal["auto"]
JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled", "paused"]


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"]
    expires_at: int | None = None
    status_details: str | None = None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool


class Hyperparameters(BaseModel):
    """OpenAI's three, `auto` allowed; kubetune's typed hyperparameters (e.g. max_steps) pass through."""

    model_config = ConfigDict(extra="allow")

    batch_size: Auto | int | None = None
    learning_rate_multiplier: Auto | float | None = None
    n_epochs: Auto | int | None = None
    beta: Auto | float | None = None


class MethodConfig(BaseModel):
    hyperparameters: Hyperparameters | None = None


class Method(BaseModel):
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: MethodConfig | None = None
    dpo: MethodConfig | None = None
    reinforcement: dict[str, Any] | None = None


class JobCreate(BaseModel):
    model: str = Field(min_length=1, max_length=256)
    training_file: str = Field(min_length=1, max_length=253)
    validation_file: str | None = Field(default=None, max_length=253)
    suffix: str | None = Field(default=None, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    metadata: dict[str, str] | None = None
    integrations: list[dict[str, Any]] | None = None


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class ResolvedHyperparameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    n_epochs: float | int | None = None


class ResolvedMethodConfig(BaseModel):
    hyperparameters: ResolvedHyperparameters


class ResolvedMethod(BaseModel):
    type: Literal["supervised", "dpo"]
    supervised: ResolvedMethodConfig | None = None
    dpo: ResolvedMethodConfig | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: ResolvedHyperparameters
    model: str
    organization_id: str
    result_files: list[str] = Field(default_factory=list)
    seed: int
    status: JobStatus
    trained_tokens: int | None = None
    training_file: str
    validation_file: str | None = None
    estimated_finish: int | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    method: ResolvedMethod | None = None


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool = False


class JobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    data: dict[str, Any] | None = None
    type: Literal["message", "metrics"] = "message"


class JobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool = False


class CheckpointMetrics(BaseModel):
    step: float | None = None
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None


class JobCheckpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: CheckpointMetrics
    step_number: int


class JobCheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobCheckpoint]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]

"""Seed 001 (fine-tune API) models. Where the seed shows `// ...`, the fields are ours."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FinetuneStatus = Literal["unknown", "pending", "running", "completed", "failed"]
SplitType = Literal["train_test", "train_val", "train_test_val", "train_test_val_80", "all"]


class Providers(BaseModel):
    providers: dict[str, str] = Field(description="Provider id -> display name (one per Trainer, plus aliases).")


class Parameter(BaseModel):
    name: str
    type: str
    description: str = ""
    default: float | int | str | bool | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] | None = None
    optional: bool = True


class Parameters(BaseModel):
    parameters: list[Parameter]


class ProviderModel(BaseModel):
    id: str
    name: str
    uri: str
    size: str = ""
    type: str = "base"
    task: str = "causal-lm"


class ProviderModels(BaseModel):
    provider_id: str
    provider_name: str
    models: list[ProviderModel]


class Models(BaseModel):
    providers: list[ProviderModels]


class Upload(BaseModel):
    filename: str
    path: str = Field(description="Storage key under the project; pass it back as dataset_path.")
    dataset_id: str = Field(description="The Dataset created for the file (its uid).")
    project_id: str
    format: str
    size: int


class FormatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset_path: str = Field(min_length=1, max_length=1024)
    split_name: str = Field(default="train", max_length=64)
    format_type: str = Field(default="openai_chat_jsonl", max_length=64)
    data_strategy: str = Field(default="final_only", max_length=64)
    system_message: str | None = Field(default=None, max_length=16384)
    thinking_instructions: str | None = Field(default=None, max_length=16384)
    project_id: str | None = Field(default=None, max_length=128)


class FormatResponse(BaseModel):
    output_path: str


class JobCreate(BaseModel):
    """Seed 001's sample body, plus optional placement and dataset fields."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    name: str = Field(min_length=1, max_length=256)
    provider: str = Field(default="TOGETHER_AI", min_length=1, max_length=64)
    model_name: str = Field(min_length=1, max_length=1024)
    dataset_path: str | None = Field(default=None, max_length=1024)
    dataset_id: str | None = Field(default=None, max_length=253)
    parameters: dict[str, Any] = Field(default_factory=dict, max_length=64)
    description: str | None = Field(default=None, max_length=4096)
    system_message: str | None = Field(default=None, max_length=16384)
    thinking_instructions: str | None = Field(default=None, max_length=16384)
    data_strategy: str | None = Field(default=None, max_length=64)
    format_type: str | None = Field(default=None, max_length=64)
    train_split_name: str | None = Field(default=None, max_length=64)
    validation_split_name: str | None = Field(default=None, max_length=64)
    project_id: str | None = Field(default=None, max_length=128)
    task_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
    serve: bool | None = None


class Job(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    id: str
    name: str
    description: str | None
    provider: str
    model_name: str
    fine_tune_model_id: str | None = Field(description="Where the trained adapter is (status.output).")
    dataset_path: str | None
    dataset_id: str | None
    train_split_name: str
    validation_split_name: str | None
    parameters: dict[str, Any]
    system_message: str | None
    thinking_instructions: str | None
    data_strategy: str
    format_type: str | None
    status: FinetuneStatus
    latest_status: str | None = Field(description="The Training's phase.")
    message: str | None
    progress: float
    project_id: str
    task_id: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    inference_service: str | None


class JobResponse(BaseModel):
    job: Job


class JobsResponse(BaseModel):
    jobs: list[Job]


class SplitCount(BaseModel):
    name: str
    rows: int


class DatasetSplit(BaseModel):
    id: str = Field(description="<dataset uid>:<split type>")
    name: str
    split_type: SplitType
    seed: int
    dataset_id: str
    dataset_name: str
    splits: list[SplitCount]
    created_at: datetime


class DatasetSplitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset_id: str = Field(max_length=253)
    split_type: SplitType = "train_test"
    seed: int = Field(default=42, ge=0)


class DatasetSplits(BaseModel):
    dataset_splits: list[DatasetSplit]


class DatasetSplitResponse(BaseModel):
    dataset_split: DatasetSplit

"""Request and response bodies: seed 002's inference API and seed 003's generate call.

The OpenAI-compatible bodies live in ``openai_schemas``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MAX_TEXT = 200_000
# A data: URI carries the whole image, so image_url may be long.
MAX_IMAGE_URL = 16 * 1024 * 1024


class ModelChoice(BaseModel):
    model: str | None = Field(
        default=None, max_length=256, description="Served model id or adapter name (default: the default adapter)."
    )


# /infer
class InferRequest(ModelChoice):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="Text to score.")


class InferResponse(BaseModel):
    score: float = Field(description="Positive-class probability (classifier) or inverse perplexity (causal LM).")
    confidence: float = Field(description="Probability of the model's top choice.")
    processing_time: float = Field(description="Seconds spent on this request.")
    model_version: str


# /infer/image
class ImageOptions(BaseModel):
    extract_features: bool = Field(default=True, description="Return brightness, contrast and saturation.")
    return_embeddings: bool = Field(default=False, description="Return the image embedding vector.")


class ImageInferRequest(ModelChoice):
    image_url: str = Field(min_length=1, max_length=MAX_IMAGE_URL, description="http(s) URL or data: URI.")
    task: str = Field(default="style_analysis", max_length=64, description="Analysis to run.")
    options: ImageOptions = Field(default_factory=ImageOptions)


class ImageFeatures(BaseModel):
    brightness: float
    contrast: float
    saturation: float


class ImageInferResponse(BaseModel):
    style: str = Field(description="Label predicted by the image classifier.")
    colors: list[str] = Field(description="Dominant colours, most common first, as #RRGGBB.")
    features: ImageFeatures | None = None
    confidence: float
    processing_time: float
    model_version: str
    embeddings: list[float] | None = None


# /infer/batch
class BatchItem(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class BatchRequest(ModelChoice):
    items: list[BatchItem] = Field(min_length=1)
    batch_size: int = Field(default=10, ge=1, le=1024, description="Items sent to the model at once.")


class BatchResult(BaseModel):
    id: str
    score: float
    confidence: float


class BatchResponse(BaseModel):
    results: list[BatchResult]
    total_processed: int
    processing_time: float
    model_version: str


# /stream/infer
class StreamInferRequest(ModelChoice):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    stream_interval: float = Field(default=0.1, ge=0, le=10, description="Seconds between progress events.")
    max_tokens: int | None = Field(default=None, ge=1, description="Causal LM: tokens to generate.")
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)


# /healthz, /readyz
class QueueStatusModel(BaseModel):
    active_requests: int
    queued_requests: int
    max_concurrent: int
    estimated_wait_time: float


class ModelStatus(BaseModel):
    model_ready: bool
    model_version: str
    gpu_available: bool
    concurrent_requests: int
    queue_size: int
    queue_status: QueueStatusModel
    task: str
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


# seed 003: POST /api/v1/inference/generate (also /generate)
class GenerateRequest(BaseModel):
    model_id: str | None = Field(default=None, max_length=256)
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
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

"""Serving limits, shared by InferenceService and a Training's serve block."""

from __future__ import annotations

from pydantic import Field

from kubetune.crd.base import CamelModel


class InferenceLimits(CamelModel):
    """Admission control and batching of one inference server."""

    max_concurrent: int = Field(default=2, ge=1, le=1024, description="Requests running at once.")
    queue_size: int = Field(default=10, ge=0, le=10000, description="Requests waiting; beyond it, 429.")
    timeout_seconds: float = Field(default=30, gt=0, le=3600, description="Per-request time limit.")
    max_batch_size: int = Field(default=8, ge=1, le=1024, description="Largest dynamic batch.")
    max_batch_wait_ms: float = Field(
        default=5, ge=0, le=1000, description="How long a batch waits for company."
    )


class CacheSettings(CamelModel):
    """The inference server's result cache."""

    enabled: bool = Field(default=True, description="Cache identical requests.")
    ttl_seconds: int = Field(default=3600, ge=0, le=604800, description="How long a result stays valid.")
    max_entries: int = Field(default=10000, ge=0, le=1000000, description="Size bound of the cache.")

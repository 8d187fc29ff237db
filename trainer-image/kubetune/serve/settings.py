"""Configuration of one inference server, from env vars (``KUBETUNE_SERVE_*``) and CLI flags.

The defaults of the admission, batching and cache knobs come from the
InferenceService resource model, so the operator and the server never disagree
about what "not set" means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubetune.crd.limits import CacheSettings, InferenceLimits
from kubetune.crd.vocab import Task

_LIMITS = InferenceLimits()
_CACHE = CacheSettings()

Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
Engine = Literal["kubetune", "vllm"]


class ServeSettings(BaseSettings):
    """Everything the server needs; the operator passes it as env vars or flags."""

    model_config = SettingsConfigDict(env_prefix="KUBETUNE_SERVE_", extra="forbid", populate_by_name=True)

    # What to serve
    model_uri: str = Field(default="", description="Base model: a directory, file://, pvc://, s3:// or hf://.")
    adapters: dict[str, str] = Field(
        default_factory=dict, description="LoRA adapters, name -> uri; the first one is the default."
    )
    task: Task = Field(default="causal-lm", description="What the model does.")
    model_name: str = Field(default="", description="Model id shown by /v1/models (default: from the uri).")
    model_version: str = Field(default="dev", description="Version reported in every response and log line.")
    pvc_mount_root: Path = Field(
        default=Path("/mnt/pvc"),
        # KUBETUNE_PVC_ROOT is the trainer's name for the same place: one pod spec serves both.
        validation_alias=AliasChoices("pvc_mount_root", "KUBETUNE_SERVE_PVC_MOUNT_ROOT", "KUBETUNE_PVC_ROOT"),
        description="Where pvc://<claim>/ is mounted.",
    )
    download_dir: Path | None = Field(default=None, description="Where s3:// models are copied to.")
    device: Device = "auto"
    dtype: DType = "auto"
    estimated_load_seconds: float = Field(default=30, ge=0, description="Guess for the 503 ready time.")

    # Engine (InferenceService.spec.runtime): kubetune runs the model in this process; vllm calls vLLM's
    # OpenAI server (a second container of the pod, on loopback) that holds the model instead.
    engine: Engine = Field(default="kubetune", description="Who runs the model: kubetune or vllm.")
    vllm_url: str = Field(default="http://127.0.0.1:8000", description="vLLM's OpenAI server (engine vllm).")
    vllm_command: list[str] = Field(
        default_factory=list,
        description='Start vLLM as a child process with this command (e.g. ["vllm", "serve"]) and the resolved '
        "model directory; empty: vLLM runs elsewhere (vllm_url).",
    )
    vllm_args: list[str] = Field(
        default_factory=list, description="More vLLM arguments (the operator's from spec.vllm)."
    )
    vllm_start_timeout_seconds: float = Field(default=1800, gt=0, description="How long vLLM may take to start.")
    adapters_file: Path | None = Field(
        default=None,
        description="A JSON file {name: uri} of the adapters to serve, re-read while running: adapters added "
        "there are loaded and removed ones unloaded without a restart (the operator mounts a ConfigMap).",
    )
    default_adapter: str | None = Field(
        default=None, description="The adapter the served model name selects (default: the first adapter)."
    )
    adapters_poll_seconds: float = Field(default=5, gt=0, description="How often adapters_file is re-read.")

    # Admission and batching (InferenceService.spec.limits)
    max_concurrent: int = Field(default=_LIMITS.max_concurrent, ge=1)
    queue_size: int = Field(default=_LIMITS.queue_size, ge=0)
    timeout_seconds: float = Field(default=_LIMITS.timeout_seconds, gt=0)
    max_batch_size: int = Field(default=_LIMITS.max_batch_size, ge=1)
    max_batch_wait_ms: float = Field(default=_LIMITS.max_batch_wait_ms, ge=0)

    # Result cache (InferenceService.spec.cache)
    cache_enabled: bool = _CACHE.enabled
    cache_ttl_seconds: float = Field(default=_CACHE.ttl_seconds, ge=0)
    cache_max_entries: int = Field(default=_CACHE.max_entries, ge=0)

    # Inputs
    max_input_tokens: int = Field(default=2048, ge=1, description="Longer inputs are truncated.")
    default_max_tokens: int = Field(default=128, ge=1, description="Generation length when unset.")
    max_tokens_limit: int = Field(default=2048, ge=1, description="Largest max_tokens accepted.")
    max_batch_items: int = Field(default=256, ge=1, description="Largest /infer/batch request.")
    stream_steps: int = Field(default=3, ge=2, description="Progress events of a classifier stream.")

    # Security
    api_key_file: Path | None = Field(default=None, description="Mounted Secret file, one key per line.")
    metrics_require_auth: bool = Field(default=False, description="Ask scrapers of /metrics for a key.")
    allow_private_image_urls: bool = Field(default=False, description="Allow loopback/private targets.")
    image_allowed_networks: list[str] = Field(
        default_factory=list, description="CIDRs exempt from the private-address block (internal CDNs)."
    )
    image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    image_max_pixels: int = Field(default=40_000_000, ge=1)
    image_fetch_timeout_seconds: float = Field(default=10, gt=0)
    image_max_redirects: int = Field(default=3, ge=0)
    image_tmp_dir: Path | None = Field(default=None, description="Where downloads live until used.")

    # Process
    host: str = "0.0.0.0"  # noqa: S104 - a pod serves on all its interfaces
    port: int = Field(default=8002, ge=1, le=65535)
    log_level: str = "info"

    @field_validator("adapters")
    @classmethod
    def _adapter_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or "/" in name or name.startswith("."):
                raise ValueError(f"bad adapter name {name!r}")
        return value

    @property
    def served_model_name(self) -> str:
        """The id clients use for the default model."""
        if self.model_name:
            return self.model_name
        tail = self.model_uri.rstrip("/").rsplit("/", 1)[-1]
        return tail or "model"

    @property
    def batching_enabled(self) -> bool:
        return self.max_batch_size > 1

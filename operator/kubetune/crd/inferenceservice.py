"""InferenceService: serves a base model plus adapters, or a Training's output."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kubetune.crd.autoscaling import Autoscaling
from kubetune.crd.base import (
    CamelModel,
    Condition,
    LocalObjectRef,
    ModelUri,
    Quantity,
    Resources,
    SecretKeyRef,
    Uri,
    operator_bookkeeping,
)
from kubetune.crd.bounds import MAX_CONDITIONS
from kubetune.crd.limits import CacheSettings, InferenceLimits
from kubetune.crd.vocab import InferencePhase, Task

ServingAuth = Literal["apiKey", "none"]
ServingRuntime = Literal["kubetune", "vllm"]
MAX_ADAPTERS = 16  # per service: spec.model.adapters and status.adapters (with Trainings serving into it)


class Adapter(CamelModel):
    """A LoRA adapter loaded on top of the base model."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=63, description="Adapter name.")
    uri: Uri = Field(description="Adapter location.")


class ModelSource(CamelModel):
    """A base model and optional adapters."""

    base_model: ModelUri = Field(
        description="Base model location, or a Training of this namespace: training://<name> (its output) or "
        "training://<name>/checkpoints/<step> (one of its listed checkpoints)."
    )
    adapters: list[Adapter] = Field(default_factory=list, max_length=MAX_ADAPTERS, description="LoRA adapters.")


class VLLMOptions(CamelModel):
    """vLLM's engine settings (runtime vllm); tensor parallelism follows the GPUs requested."""

    max_loras: int = Field(default=4, ge=1, le=64, description="Adapters one batch may mix (--max-loras).")
    max_lora_rank: int = Field(default=16, ge=1, le=512, description="Largest adapter rank (--max-lora-rank).")
    gpu_memory_utilization: float = Field(
        default=0.9, gt=0, le=1,
        description="Share of GPU memory vLLM takes for weights and KV cache (--gpu-memory-utilization); GPU "
        "nodes only: on a CPU node vLLM would read it as a share of the whole node's memory, so there the KV "
        "cache is sized by kvCacheMemory instead.",
    )
    kv_cache_memory: Quantity | None = Field(
        default=None,
        description="KV cache size (--kv-cache-memory-bytes, e.g. 2Gi); takes precedence over "
        "gpuMemoryUtilization. Unset on a CPU node: a quarter of resources.memory (the pod's memory limit).",
    )
    max_model_len: int | None = Field(
        default=None, ge=16, le=1_048_576, description="Context length (--max-model-len); unset: the model's own."
    )


class InferenceServiceSpec(CamelModel):
    """What to serve and how."""

    model: ModelSource | None = Field(default=None, description="Serve this model (or use trainingRef).")
    training_ref: LocalObjectRef | None = Field(
        default=None, description="Serve the output of this Training once it succeeds."
    )
    task: Task = Field(default="causal-lm", description="Task of the served model.")
    runtime: ServingRuntime | None = Field(
        default=None,
        description="Who runs the model: kubetune (its own transformers server) or vllm (vLLM's engine, with "
        "kubetune's server in front of it in the same pod; causal-lm only). Unset: the platform's default for "
        "causal-lm (chart value runtime.llmRuntime), kubetune for the other tasks.",
    )
    vllm: VLLMOptions = Field(default_factory=VLLMOptions, description="vLLM settings (runtime vllm).")
    image: str | None = Field(default=None, max_length=512, description="Runtime image override.")
    replicas: int = Field(default=1, ge=0, le=100, description="Serving replicas (without autoscaling).")
    autoscaling: Autoscaling | None = Field(
        default=None, description="Scale between bounds on load (HPA, or KEDA where installed), and to zero "
        "when idle; replicas is then ignored.")
    resources: Resources | None = Field(default=None, description="Pod resources.")
    limits: InferenceLimits = Field(default_factory=InferenceLimits, description="Admission and batching.")
    cache: CacheSettings = Field(default_factory=CacheSettings, description="Result cache.")
    suspend: bool = Field(default=False, description="Scale to zero and keep the spec.")
    auth: ServingAuth = Field(
        default="apiKey",
        description="apiKey: the server asks every caller for a bearer key; the operator creates the Secret "
        "<name>-serving-key (key api-key: this service's own key, for clients in the namespace; the facade "
        "uses a key derived for it). none: no key at all, an explicit choice for a server that anyone who "
        "can reach it may call.",
    )
    api_keys: SecretKeyRef | None = Field(
        default=None,
        description="More bearer keys the server accepts, from a Secret you manage (one per line); rotating "
        "the Secret rotates them without a restart. Only with auth apiKey.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> InferenceServiceSpec:
        if (self.model is None) == (self.training_ref is None):
            raise ValueError("an InferenceService needs exactly one of model or trainingRef")
        if self.api_keys is not None and self.auth == "none":
            raise ValueError("apiKeys needs auth apiKey: a server without a key accepts every caller")
        if self.runtime == "vllm" and self.task != "causal-lm":
            raise ValueError(f"runtime vllm serves causal-lm models, not {self.task}")
        return self


class InferenceServiceStatus(CamelModel):
    """Written by the operator."""

    phase: InferencePhase | None = Field(default=None, description="Lifecycle phase.")
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS,
                                        description="Standard conditions.")
    message: str | None = Field(default=None, max_length=4096, description="Why the phase is what it is.")
    url: str | None = Field(default=None, max_length=1024, description="In-cluster URL of the server.")
    ready_replicas: int | None = Field(default=None, ge=0, description="Replicas passing /readyz.")
    model_version: str | None = Field(default=None, max_length=256, description="Version of the model being served.")
    deployment_name: str | None = Field(default=None, max_length=253, description="Deployment serving the model.")
    runtime: ServingRuntime | None = Field(default=None, description="Who runs the model (spec.runtime resolved).")
    adapters: list[str] = Field(
        default_factory=list, max_length=MAX_ADAPTERS,
        description="Adapters the running server is given; added and removed ones are loaded and unloaded "
        "without a rollout (the server's /v1/models lists those it has loaded).",
    )
    observed_generation: int | None = Field(default=None, description="Generation last reconciled.")
    kopf: dict[str, Any] | None = operator_bookkeeping()

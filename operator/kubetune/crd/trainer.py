"""Trainer: a cluster-scoped training runtime that administrators register."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kubetune.crd.base import (
    CamelModel,
    Condition,
    DnsSubdomain,
    EnvVar,
    LabelValue,
    Quantity,
    Toleration,
    Uri,
    operator_bookkeeping,
)
from kubetune.crd.distributed import HubTokenRef
from kubetune.crd.vocab import Method, Task

ParamValue = float | int | str | bool


class ParameterDefinition(CamelModel):
    """One tunable hyperparameter, as the facade's parameter and template endpoints show it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description="Hyperparameter key.")
    type: Literal["float", "int", "string", "bool"] = Field(description="Value type.")
    description: str = Field(default="", max_length=1024, description="What the parameter does.")
    default: ParamValue | None = Field(default=None, description="Value used when a Training omits it.")
    minimum: float | None = Field(default=None, description="Smallest allowed value (numbers).")
    maximum: float | None = Field(default=None, description="Largest allowed value (numbers).")
    choices: list[str] | None = Field(
        default=None, max_length=64, description="Allowed values (strings)."
    )

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> ParameterDefinition:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"parameter {self.name}: minimum {self.minimum} > maximum {self.maximum}")
        return self


class CatalogModel(CamelModel):
    """A base model this Trainer offers."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=128, description="Stable model id.")
    name: str = Field(max_length=256, description="Display name.")
    uri: Uri = Field(description="Where the weights are: hf://, pvc://, s3:// or file://.")
    size: str = Field(default="", max_length=32, description="Parameter count as shown to users, e.g. 7B.")
    type: Literal["base", "chat", "instruct", "classifier", "vision"] = Field(
        default="base", description="Kind of checkpoint."
    )
    provider: str = Field(default="", max_length=64, description="Who published the model.")
    task: Task = Field(default="causal-lm", description="Task the model is meant for.")


class TrainerResources(CamelModel):
    """Default resources for Trainings that use this Trainer."""

    gpus: int = Field(default=1, ge=0, le=16, description="GPUs per training pod (nvidia.com/gpu).")
    gpu_product: LabelValue | None = Field(
        default=None, description="Required nvidia.com/gpu.product node label (a label value)."
    )
    min_gpu_memory: Quantity | None = Field(
        default=None, description="Smallest GPU memory this runtime needs, e.g. 8Gi (shown to users)."
    )
    cpu: Quantity | None = Field(default=None, description="CPU request per pod.")
    memory: Quantity | None = Field(default=None, description="Memory request per pod.")


class TrainerSpec(CamelModel):
    """How a training runtime runs and what it supports."""

    display_name: str = Field(default="", max_length=128, description="Human-readable name.")
    description: str = Field(default="", max_length=2048, description="What this runtime is for.")
    image: str = Field(min_length=1, max_length=512, description="Container image of the runtime.")
    command: list[str] = Field(
        default_factory=lambda: ["kubetune-train"],
        min_length=1,
        max_length=32,
        description="Entrypoint; the operator adds --config pointing at the mounted run config.",
    )
    env: list[EnvVar] = Field(default_factory=list, max_length=64, description="Extra environment.")
    tasks: list[Task] = Field(min_length=1, max_length=3, description="Tasks this runtime supports.")
    methods: list[Method] = Field(min_length=1, max_length=3, description="Fine-tuning methods supported.")
    parameters: list[ParameterDefinition] = Field(
        default_factory=list, max_length=64, description="Hyperparameters users may set, with bounds."
    )
    models: list[CatalogModel] = Field(
        default_factory=list, max_length=256, description="Catalog of base models offered."
    )
    resources: TrainerResources = Field(
        default_factory=TrainerResources, description="Default resources per training pod."
    )
    tolerations: list[Toleration] = Field(default_factory=list, max_length=32, description="Pod tolerations.")
    priority_class_name: DnsSubdomain | None = Field(
        default=None, description="PriorityClass for training pods."
    )
    hf_token_secret: HubTokenRef | None = Field(
        default=None, description="Secret key (in each Training's namespace) with a Hugging Face token, "
        "for gated or private catalog models; a Training's own hfTokenSecret wins.")

    @model_validator(mode="after")
    def _unique_names(self) -> TrainerSpec:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter definitions: {', '.join(dupes)}")
        ids = [m.id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate model ids: {', '.join(dupes)}")
        return self


class TrainerStatus(CamelModel):
    """Written by the operator."""

    conditions: list[Condition] = Field(default_factory=list, description="Ready and related conditions.")
    trainings: int = Field(default=0, ge=0, description="How many Trainings use this Trainer.")
    tasks: str | None = Field(default=None, max_length=512, description="Supported tasks, as text.")
    methods: str | None = Field(default=None, max_length=128, description="Supported methods, as text.")
    observed_generation: int | None = Field(default=None, description="Generation last validated.")
    kopf: dict[str, Any] | None = operator_bookkeeping()

"""Shared building blocks for the resource models.

Every field is snake_case in Python and camelCase on the wire, like the
Kubernetes API itself. Models forbid unknown keys so that a typo in a spec is
an error, not a silently ignored field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "kubetune.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class CamelModel(BaseModel):
    """Base for every spec and status model: camelCase aliases, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=False,
    )

    def to_wire(self) -> dict[str, object]:
        """The JSON shape Kubernetes stores: aliases, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def operator_bookkeeping() -> Any:
    """The `kopf` status field: the operator framework's own state, kept beside the operator's fields.

    kopf records the spec it last handled and its handlers' retries there; in status (not in
    annotations) that record rides on the operator's own status write instead of costing a write.
    """
    return Field(default=None, description="The operator's bookkeeping (last handled spec, retries); not for users.")


# Kubernetes quantities ("500m", "16Gi", 2) are validated by the API server's own
# quantity parser where they end up (pod resources); here they only need a shape.
Quantity = Annotated[
    str,
    Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$", max_length=32),
]

# Where models, datasets and artifacts live. Credentials never go in a uri.
URI_PATTERN = r"^(hf|pvc|s3|file)://[^\s@]+$"
Uri = Annotated[str, Field(pattern=URI_PATTERN, max_length=1024)]
# Another Training of the same namespace as a model: its final output, or one of its listed checkpoints
# (kubetune.crd.references resolves it; the chain waits for that Training to succeed).
TRAINING_URI_PATTERN = r"^training://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/checkpoints/[0-9]{1,12})?$"
ModelUri = Annotated[
    str, Field(pattern=f"{URI_PATTERN}|{TRAINING_URI_PATTERN}", max_length=1024)
]

DNS1123 = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ObjectName = Annotated[str, Field(pattern=DNS1123, min_length=1, max_length=63)]

# Values the operator copies into a child object's label, node selector or name: checked here
# (and so by the CRD schema) with Kubernetes' own rules, because a value the API server refuses
# on the child would leave the parent pending with nothing to say why.
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE, max_length=63)]
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DnsSubdomain = Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]
QUALIFIED_NAME = rf"^({DNS_SUBDOMAIN[1:-1]}/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
QualifiedName = Annotated[str, Field(pattern=QUALIFIED_NAME, max_length=316)]


class Condition(CamelModel):
    """A standard Kubernetes condition (the metav1.Condition shape)."""

    type: str = Field(description="Condition type, e.g. Ready, Succeeded, Failed.", max_length=316)
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase machine-readable reason.", max_length=1024)
    message: str = Field(default="", description="Human-readable detail.", max_length=32768)
    last_transition_time: datetime | None = Field(
        default=None, description="When the status last changed."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this condition was computed from."
    )


class Toleration(CamelModel):
    """A pod toleration, passed through to the pods as written."""

    key: QualifiedName | None = Field(default=None, description="Taint key to tolerate.")
    operator: Literal["Exists", "Equal"] | None = Field(default=None, description="Exists or Equal.")
    value: LabelValue | None = Field(default=None, description="Taint value when operator is Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to tolerate; empty means all."
    )
    toleration_seconds: int | None = Field(
        default=None, description="How long a NoExecute taint is tolerated."
    )


class EnvVar(CamelModel):
    """A plain environment variable (secrets belong in Secrets, not here)."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=256, description="Variable name.")
    value: str = Field(default="", max_length=4096, description="Variable value.")


class Resources(CamelModel):
    """What one training or serving pod asks for."""

    gpus: int | None = Field(default=None, ge=0, le=16, description="Number of GPUs (nvidia.com/gpu).")
    gpu_type: LabelValue | None = Field(
        default=None,
        description="GPU product, matched against the nvidia.com/gpu.product node label (a label value: "
        "letters, digits, '-', '_', '.', at most 63 characters), e.g. NVIDIA-A100-SXM4-80GB.",
    )
    cpu: Quantity | None = Field(default=None, description="CPU request, e.g. 4 or 500m.")
    memory: Quantity | None = Field(default=None, description="Memory request, e.g. 16Gi.")


class LocalObjectRef(CamelModel):
    """A reference to another object by name (same namespace unless stated)."""

    name: ObjectName = Field(description="Name of the referenced object.")


class SecretKeyRef(CamelModel):
    """One key of a Secret in the object's own namespace."""

    name: ObjectName = Field(description="Name of the Secret.")
    key: str = Field(default="keys", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253,
                     description="Key inside the Secret.")

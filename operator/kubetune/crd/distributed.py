"""How a Training spreads over processes and pods, and the Hugging Face token it reads gated models with.

The operator resolves these into the run config's `distributed` block
(kubetune.crd.runconfig.RunDistributed): `auto` becomes ddp or fsdp by method,
an unset processesPerNode becomes the pod's GPU count (1 on CPU).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetune.crd.base import CamelModel, ObjectName, Quantity

StrategyChoice = Literal["auto", "ddp", "fsdp"]


class DistributedSpec(CamelModel):
    """Processes per pod and how they share the model (torchrun, c10d rendezvous)."""

    strategy: StrategyChoice = Field(
        default="auto",
        description="auto: DDP for lora/qlora (the adapter is small, every process keeps a replica), FSDP2 for "
        "full fine-tuning (parameters, gradients and optimizer state sharded); or ddp / fsdp explicitly.",
    )
    processes_per_node: int | None = Field(
        default=None, ge=1, le=64,
        description="Processes per pod; unset: one per GPU, or 1 without GPUs. On CPU it makes the same "
        "path testable with the gloo backend; with GPUs it must equal the GPU count.",
    )
    activation_checkpointing: bool = Field(default=False, description="Recompute activations in backward.")
    cpu_offload: bool = Field(default=False, description="FSDP: keep sharded parameters on the CPU.")
    mixed_precision: Literal["auto", "bf16", "no"] = Field(
        default="auto", description="bf16 compute where the device has it (auto), always (bf16) or never (no)."
    )
    rendezvous_timeout_seconds: int = Field(
        default=600, ge=10, le=86400,
        description="How long torchrun waits for every pod to join before the attempt fails with a message.",
    )
    shm_size: Quantity | None = Field(
        default=None,
        description="Size of the pod's /dev/shm (a memory-backed emptyDir for NCCL and data loaders); "
        "unset: 1Gi per process.",
    )


class HubTokenRef(CamelModel):
    """A Secret key holding a Hugging Face access token (gated and private models).

    The Secret lives in the Training's namespace (for a Trainer's ref too: each project keeps its own).
    The token reaches the pod only as a secretKeyRef variable (HF_TOKEN), never in a spec or a log.
    """

    name: ObjectName = Field(description="Name of the Secret in the Training's namespace.")
    key: str = Field(default="token", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253,
                     description="Key inside the Secret.")


class NodeState(CamelModel):
    """One pod of a multi-node Training, as the operator last saw it."""

    index: int = Field(ge=0, description="Node rank (the Indexed Job's completion index).")
    pod: str | None = Field(default=None, max_length=253, description="The pod running it.")
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Missing"] = Field(description="Pod state.")
    reason: str | None = Field(default=None, max_length=128, description="Why it is not running.")

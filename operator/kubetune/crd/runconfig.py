"""The trainer's run configuration: the file the operator mounts into the Job's pod.

The operator resolves a Training against its Trainer (catalog ids to uris,
parameter defaults filled in) and writes this model as JSON into a ConfigMap
mounted at RUN_CONFIG_PATH; `kubetune-train --config FILE` reads it back. A
user on a workstation writes the same file by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from kubetune.crd.base import CamelModel
from kubetune.crd.tracking import RunTracking
from kubetune.crd.trainer import ParamValue
from kubetune.crd.vocab import DatasetFormat, DataStrategy, DpoLoss, Method, Objective, Scheduler, Task

RUN_CONFIG_DIR = "/etc/kubetune"
RUN_CONFIG_FILE = "run.json"
RUN_CONFIG_PATH = f"{RUN_CONFIG_DIR}/{RUN_CONFIG_FILE}"


class TrainingIdentity(CamelModel):
    """Which Training the reporter writes status into."""

    namespace: str = Field(description="Namespace of the Training.")
    name: str = Field(description="Name of the Training.")
    uid: str | None = Field(default=None, description="UID, to refuse writing into a recreated object.")


class RunDataset(CamelModel):
    """The data, already resolved to a uri."""

    uri: str = Field(description="Location of the data file (file://, s3://, pvc:// or a local path).")
    format: DatasetFormat = Field(description="File format.")
    train_split: str = Field(default="train", description="Split to train on.")
    validation_split: str | None = Field(default=None, description="Split to evaluate on.")
    validation_fraction: float | None = Field(default=None, ge=0, lt=1, description="Held-out fraction.")
    data_strategy: DataStrategy = Field(default="final_only", description="Reasoning rendering.")
    system_message: str | None = Field(default=None, description="System prompt.")
    thinking_instructions: str | None = Field(default=None, description="Reasoning instructions.")


class RunHyperparameters(CamelModel):
    """Every hyperparameter with a concrete value."""

    learning_rate: float = Field(default=2e-4, gt=0, le=1)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    max_seq_length: int = Field(default=512, ge=8)
    warmup_ratio: float = Field(default=0.0, ge=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    lr_scheduler: Scheduler = "linear"
    lora_rank: int = Field(default=8, ge=1)
    lora_alpha: float = Field(default=16.0, gt=0)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    lora_target_modules: list[str] | None = None
    seed: int = Field(default=42, ge=0)
    packing: bool = False
    train_on_inputs: bool = False
    eval_steps: int | None = Field(default=None, ge=1)
    save_steps: int | None = Field(default=None, ge=1)
    save_total_limit: int = Field(default=2, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    beta: float = Field(default=0.1, gt=0)
    label_smoothing: float = Field(default=0.0, ge=0, le=0.5)
    dpo_loss: DpoLoss = "sigmoid"
    extra: dict[str, ParamValue] = Field(default_factory=dict)


class Reporting(CamelModel):
    """How the trainer reports."""

    interval_seconds: float = Field(default=5.0, ge=0, description="Least time between status patches.")
    termination_log: str = Field(default="/dev/termination-log", description="Where a failure reason goes.")
    history_points: int = Field(default=500, ge=10, le=600, description="Bound of status.history.")


DistributedStrategy = Literal["ddp", "fsdp"]
MixedPrecision = Literal["bf16", "no", "auto"]


class RunDistributed(CamelModel):
    """How many processes train together, and how they share the model (resolved by the operator).

    The world is nodes * processes_per_node processes started by torchrun; one
    process and one node is the plain single-process run.
    """

    strategy: DistributedStrategy = Field(
        default="ddp", description="ddp replicates the model (LoRA/QLoRA); fsdp shards it with FSDP2 (full)."
    )
    processes_per_node: int = Field(default=1, ge=1, le=64, description="Processes per pod (one per GPU).")
    nodes: int = Field(default=1, ge=1, le=256, description="Pods that train together.")
    activation_checkpointing: bool = Field(default=False, description="Recompute activations in backward.")
    cpu_offload: bool = Field(default=False, description="FSDP: keep sharded parameters on the CPU.")
    mixed_precision: MixedPrecision = Field(
        default="auto", description="bf16 compute where the device has it (auto), always (bf16) or never (no)."
    )
    rendezvous_timeout_seconds: int = Field(
        default=600, ge=10, le=86400, description="How long torchrun waits for every node to join."
    )

    @property
    def world_size(self) -> int:
        """Processes in the whole job."""
        return self.nodes * self.processes_per_node


class TrainRunConfig(CamelModel):
    """Everything `kubetune-train` needs, and nothing it must look up elsewhere."""

    training: TrainingIdentity | None = Field(default=None, description="Report into this Training.")
    task: Task = "causal-lm"
    method: Method = "lora"
    objective: Objective = "supervised"
    base_model: str = Field(description="Resolved base model location.")
    adapter: str | None = Field(
        default=None,
        description="A LoRA adapter on the base to start from (a chain: training://<name> of a LoRA Training). "
        "lora/qlora continue training it; full merges it into the weights first.",
    )
    dataset: RunDataset
    hyperparameters: RunHyperparameters = Field(default_factory=RunHyperparameters)
    output: str = Field(description="Where checkpoints, adapter, model card and metric log go.")
    resume: Literal["latest", "none"] | int = Field(default="latest", description="Checkpoint to resume.")
    reporting: Reporting = Field(default_factory=Reporting)
    distributed: RunDistributed = Field(default_factory=RunDistributed, description="Processes and sharding.")
    tracking: RunTracking | None = Field(default=None, description="Also log the run to MLflow (spec.tracking).")

    @classmethod
    def load(cls, path: str | Path) -> TrainRunConfig:
        """Read a run config from a JSON or YAML file."""
        import yaml  # JSON is a subset of YAML 1.2 for these files

        return cls.model_validate(yaml.safe_load(Path(path).read_text()))

"""Training: one fine-tuning run (namespaced)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from kubetune.crd import bounds
from kubetune.crd.base import (
    TRAINING_URI_PATTERN,
    URI_PATTERN,
    CamelModel,
    Condition,
    LocalObjectRef,
    ObjectName,
    Resources,
    Uri,
    operator_bookkeeping,
)
from kubetune.crd.distributed import DistributedSpec, HubTokenRef, NodeState
from kubetune.crd.limits import CacheSettings, InferenceLimits
from kubetune.crd.tracking import TrackingSpec
from kubetune.crd.trainer import ParamValue
from kubetune.crd.vocab import (
    PREFERENCE_FORMATS,
    DatasetFormat,
    DataStrategy,
    DpoLoss,
    Method,
    Objective,
    Scheduler,
    Task,
    TrainingPhase,
)


class Hyperparameters(CamelModel):
    """Typed hyperparameters; the Trainer's parameter definitions bound them further."""

    learning_rate: float | None = Field(default=None, gt=0, le=1, description="Peak learning rate.")
    epochs: float | None = Field(default=None, gt=0, le=1000, description="Passes over the training split.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimizer steps.")
    batch_size: int | None = Field(default=None, ge=1, le=4096, description="Micro-batch size per device.")
    gradient_accumulation_steps: int | None = Field(
        default=None, ge=1, le=1024, description="Micro-batches per optimizer step."
    )
    max_seq_length: int | None = Field(default=None, ge=8, le=1048576, description="Tokens per sequence.")
    warmup_ratio: float | None = Field(default=None, ge=0, le=1, description="Fraction of steps warming up.")
    weight_decay: float | None = Field(default=None, ge=0, le=1, description="AdamW weight decay.")
    lr_scheduler: Scheduler | None = Field(default=None, description="Learning-rate schedule.")
    lora_rank: int | None = Field(default=None, ge=1, le=1024, description="LoRA rank r.")
    lora_alpha: float | None = Field(default=None, gt=0, le=4096, description="LoRA scaling alpha.")
    lora_dropout: float | None = Field(default=None, ge=0, lt=1, description="LoRA dropout.")
    lora_target_modules: list[Annotated[str, Field(max_length=128)]] | None = Field(
        default=None, max_length=64, description="Module names LoRA wraps; empty means the runtime's default."
    )
    seed: int | None = Field(default=None, ge=0, description="Random seed.")
    packing: bool | None = Field(default=None, description="Pack short examples into full sequences.")
    train_on_inputs: bool | None = Field(
        default=None, description="Also compute loss on prompt tokens (default: completion only)."
    )
    eval_steps: int | None = Field(default=None, ge=1, description="Evaluate every N optimizer steps.")
    save_steps: int | None = Field(default=None, ge=1, description="Checkpoint every N optimizer steps.")
    save_total_limit: int | None = Field(default=None, ge=1, le=100, description="Checkpoints kept.")
    logging_steps: int | None = Field(default=None, ge=1, description="Report metrics every N steps.")
    beta: float | None = Field(
        default=None, gt=0, le=100,
        description="DPO temperature: how far the policy may move from the reference (objective dpo; default 0.1).",
    )
    label_smoothing: float | None = Field(
        default=None, ge=0, le=0.5,
        description="DPO label smoothing: assumed share of flipped preference labels (conservative DPO; sigmoid loss).",
    )
    dpo_loss: DpoLoss | None = Field(
        default=None, description="DPO loss: sigmoid (the paper's) or ipo (squared margin, less overfitting)."
    )
    extra: dict[str, ParamValue] | None = Field(
        default=None, max_length=bounds.MAX_PARAMETERS,
        description="Runtime-specific parameters declared by the Trainer (their names are the Trainer's).",
    )


class DatasetSource(CamelModel):
    """Where the training data comes from and how it is rendered."""

    ref: LocalObjectRef | None = Field(default=None, description="A Dataset in the same namespace.")
    uri: Uri | None = Field(default=None, description="Direct location of the data file.")
    format: DatasetFormat | None = Field(
        default=None, description="File format; taken from the Dataset when omitted."
    )
    train_split: str = Field(default="train", max_length=64, description="Split to train on.")
    validation_split: str | None = Field(default=None, max_length=64, description="Split to evaluate on.")
    validation_fraction: float | None = Field(
        default=None, ge=0, lt=1, description="Hold out this fraction when there is no validation split."
    )
    data_strategy: DataStrategy = Field(default="final_only", description="How reasoning is rendered.")
    system_message: str | None = Field(default=None, max_length=16384, description="System prompt.")
    thinking_instructions: str | None = Field(
        default=None, max_length=16384, description="Instructions for the reasoning turn."
    )

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSource:
        if (self.ref is None) == (self.uri is None):
            raise ValueError("dataset needs exactly one of ref or uri")
        return self


class HPOParameter(CamelModel):
    """One searched hyperparameter: a list of values, or a range."""

    name: str = Field(pattern=r"^[a-z][a-zA-Z0-9_]*$", max_length=64, description="Hyperparameter key.")
    values: list[ParamValue] | None = Field(default=None, max_length=100, description="Candidates (grid).")
    min: float | None = Field(default=None, description="Lower bound (random search).")
    max: float | None = Field(default=None, description="Upper bound (random search).")
    log_scale: bool = Field(default=False, description="Sample the range on a log scale.")

    @model_validator(mode="after")
    def _values_or_range(self) -> HPOParameter:
        if not self.values and (self.min is None or self.max is None):
            raise ValueError(f"hpo parameter {self.name}: give values, or min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"hpo parameter {self.name}: min {self.min} > max {self.max}")
        return self


class HPOObjective(CamelModel):
    """What makes one trial better than another."""

    metric: str = Field(default="eval_loss", max_length=64, description="Metric name in status.metrics.")
    goal: Literal["minimize", "maximize"] = Field(default="minimize", description="Direction.")


class HPOSpec(CamelModel):
    """Hyperparameter optimisation (seed 004's hpConfig): trials are child Trainings."""

    enabled: bool = Field(default=False, description="Run a search instead of one training.")
    strategy: Literal["grid", "random"] = Field(default="grid", description="How trials are chosen.")
    parameters: list[HPOParameter] = Field(default_factory=list, max_length=16, description="Search space.")
    max_trials: int = Field(default=4, ge=1, le=256, description="Trials in total.")
    parallel_trials: int = Field(default=1, ge=1, le=64, description="Trials running at once.")
    objective: HPOObjective = Field(default_factory=HPOObjective, description="Objective.")


class ServeInto(CamelModel):
    """An InferenceService that already runs: the Training's adapter is loaded into it, no rollout."""

    name: ObjectName = Field(description="The InferenceService (it may be created later: it loads the adapter then).")
    namespace: ObjectName | None = Field(
        default=None,
        description="Only the Training's own namespace: a project's adapters are served by its own services "
        "(another namespace is refused).",
    )


class ServeSpec(CamelModel):
    """Serve the result: on success the operator creates an InferenceService, or loads into one (into)."""

    enabled: bool = Field(default=False, description="Create an InferenceService when training succeeds.")
    into: ServeInto | None = Field(
        default=None,
        description="Instead of a new service: when the training succeeds, its adapter (named after the "
        "Training) is loaded into this running InferenceService of the namespace without a pod rollout, and "
        "unloaded when the Training is deleted or this field removed. LoRA/QLoRA only, and the adapter's base "
        "model must be the one the service serves. Exclusive with enabled.",
    )
    replicas: int = Field(default=1, ge=0, le=100, description="Serving replicas.")
    resources: Resources | None = Field(default=None, description="Serving pod resources.")
    limits: InferenceLimits | None = Field(default=None, description="Admission and batching limits.")
    cache: CacheSettings | None = Field(default=None, description="Result cache.")

    @model_validator(mode="after")
    def _new_or_into(self) -> ServeSpec:
        if self.enabled and self.into is not None:
            raise ValueError(SERVE_NEW_OR_INTO)
        return self


SERVE_NEW_OR_INTO = ("serve.enabled creates a new InferenceService and serve.into loads the adapter into an "
                     "existing one: set one of them")
SERVE_INTO_NEEDS_ADAPTER = ("serve.into loads an adapter into a running service; a full fine-tuning has none "
                            "(serve it with serve.enabled or an InferenceService of its own)")


class ResumeFrom(CamelModel):
    """Where a restarted training picks up."""

    checkpoint: Literal["latest", "none"] | None = Field(
        default=None, description="latest: newest checkpoint; none: start over."
    )
    step: int | None = Field(default=None, ge=0, description="A specific checkpoint step.")


class TrainingSpec(CamelModel):
    """What to train, on what, with which runtime."""

    trainer_ref: ObjectName = Field(description="Name of the cluster-scoped Trainer to run with.")
    task: Task = Field(default="causal-lm", description="What the model learns.")
    method: Method = Field(default="lora", description="lora, qlora or full fine-tuning.")
    objective: Objective = Field(
        default="supervised",
        description="supervised: next-token loss on completions. dpo: Direct Preference Optimization on "
        "preference pairs (formats openai-dpo or preference); the reference model is the frozen base.",
    )
    base_model: str = Field(
        min_length=1,
        max_length=1024,
        pattern=rf"^[a-z0-9][a-z0-9._-]*$|{URI_PATTERN}|{TRAINING_URI_PATTERN}",
        description="A model id from the Trainer's catalog, a uri (hf://, pvc://, s3://, file://), or another "
        "Training of this namespace: training://<name> (its output; this Training waits until it succeeds) "
        "or training://<name>/checkpoints/<step> (one of its listed checkpoints).",
    )
    dataset: DatasetSource = Field(description="Training data.")
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters, description="Hyperparameters.")
    resources: Resources | None = Field(default=None, description="Overrides the Trainer's defaults.")
    nodes: int = Field(
        default=1, ge=1, le=64,
        description="Pods that train together (an Indexed Job with a headless Service for rendezvous); "
        "each gets the resources above. All of them run or none: one failing restarts the group.",
    )
    distributed: DistributedSpec | None = Field(
        default=None, description="Processes per pod and the sharding strategy (torchrun); unset: defaults.")
    hf_token_secret: HubTokenRef | None = Field(
        default=None, description="Secret key with a Hugging Face token for gated or private models; "
        "overrides the Trainer's. Passed as a secretKeyRef, never in plain env.")
    queue: str | None = Field(
        default=None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="A Kueue LocalQueue of this namespace: the Job is created suspended with the label "
        "kueue.x-k8s.io/queue-name and starts when Kueue admits all its pods (the Training is Queued with its "
        "place in the queue until then). The label kueue.x-k8s.io/queue-name on the Training does the same. "
        "Needs the operator's Kueue integration.",
    )
    suspend: bool = Field(default=False, description="Stop (true) or run (false) the training.")
    resume_from: ResumeFrom | None = Field(default=None, description="Checkpoint to resume from.")
    hpo: HPOSpec | None = Field(default=None, description="Hyperparameter search.")
    output: Uri | None = Field(default=None, description="Where adapters and checkpoints go.")
    serve: ServeSpec | None = Field(default=None, description="Serve the result when training succeeds.")
    tracking: TrackingSpec | None = Field(default=None, description="Also record the run in MLflow.")
    active_deadline_seconds: int | None = Field(default=None, ge=1, description="Job deadline.")
    backoff_limit: int | None = Field(default=None, ge=0, le=100, description="Pod retries before Failed.")
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Delete the Job this long after it ends (the Training stays)."
    )
    artifact_policy: Literal["Keep", "Delete"] = Field(
        default="Keep",
        description="Keep: deleting the Training leaves its checkpoints and adapter in the store. "
        "Delete: a finalizer removes them from the project's prefix of the store first.",
    )
    display_name: str | None = Field(default=None, max_length=256, description="Human-readable name.")
    description: str | None = Field(default=None, max_length=4096, description="What this run is for.")

    @model_validator(mode="after")
    def _objective_fits_format(self) -> TrainingSpec:
        # Only a format given here can be checked now; one taken from a Dataset is checked by the operator.
        fmt = self.dataset.format
        if fmt is None:
            return self
        if self.objective == "dpo" and fmt not in PREFERENCE_FORMATS:
            raise ValueError(f"objective dpo needs a preference dataset (openai-dpo or preference), not {fmt}")
        if self.objective == "supervised" and fmt in PREFERENCE_FORMATS:
            raise ValueError(f"dataset format {fmt} holds preference pairs: use objective dpo")
        return self


class Progress(CamelModel):
    """Training progress, written by the trainer pod."""

    step: int = Field(default=0, ge=0, description="Optimizer steps done.")
    total_steps: int = Field(default=0, ge=0, description="Optimizer steps planned.")
    epoch: float = Field(default=0, ge=0, description="Fractional epoch.")
    percent: float = Field(default=0, ge=0, le=100, description="Completion percentage.")
    eta_seconds: float | None = Field(default=None, ge=0, description="Estimated seconds left.")
    tokens_per_second: float | None = Field(default=None, ge=0, description="Training throughput.")
    tokens: int | None = Field(default=None, ge=0, description="Tokens trained on so far, all ranks together.")
    # Texts for `kubectl get` (crd/display.py): columns cannot format numbers.
    steps: str | None = Field(default=None, max_length=48, description="step/total, as text.")
    eta: str | None = Field(default=None, max_length=16, description="Time left, as text (12m30s).")
    loss: str | None = Field(default=None, max_length=32, description="Latest training loss, rounded.")


class HistoryPoint(CamelModel):
    """One point of the downsampled training curve."""

    step: int = Field(ge=0, description="Optimizer step.")
    epoch: float | None = Field(default=None, description="Fractional epoch.")
    loss: float | None = Field(default=None, description="Training loss.")
    eval_loss: float | None = Field(default=None, description="Validation loss.")
    learning_rate: float | None = Field(default=None, description="Learning rate.")
    reward_margin: float | None = Field(default=None, description="DPO: chosen minus rejected reward.")
    reward_accuracy: float | None = Field(default=None, description="DPO: share of pairs ranked right.")
    eval_reward_margin: float | None = Field(default=None, description="DPO: reward margin on held-out pairs.")
    eval_reward_accuracy: float | None = Field(default=None, description="DPO: accuracy on held-out pairs.")


class LossSummary(CamelModel):
    """Initial, final and best loss of the run."""

    initial_loss: float | None = Field(default=None, description="First reported loss.")
    final_loss: float | None = Field(default=None, description="Last reported loss.")
    best_loss: float | None = Field(default=None, description="Lowest reported loss.")
    best_eval_loss: float | None = Field(default=None, description="Lowest validation loss.")


class Checkpoint(CamelModel):
    """A saved checkpoint."""

    step: int = Field(ge=0, description="Optimizer step.")
    uri: str = Field(max_length=1024, description="Where it is stored.")
    time: datetime | None = Field(default=None, description="When it was written.")


MAX_GPU_READINGS = 128  # 8 nodes of 16 GPUs; a larger run reports its first 128 devices


class GpuReading(CamelModel):
    """One GPU's NVML readings."""

    index: int = Field(ge=0, description="Device index in the pod.")
    node: int | None = Field(default=None, ge=0, description="The pod (node index) of a multi-node run it is in; "
                             "each node's first process reads its own devices.")
    name: str = Field(default="", max_length=128, description="Product name.")
    utilization_percent: float | None = Field(default=None, description="GPU utilisation.")
    memory_used_mb: float | None = Field(default=None, description="Memory in use.")
    memory_total_mb: float | None = Field(default=None, description="Memory in total.")
    temperature_c: float | None = Field(default=None, description="Temperature.")
    power_watts: float | None = Field(default=None, description="Power draw.")


class TrialStatus(CamelModel):
    """One HPO trial as the parent sees it."""

    name: str = Field(max_length=253, description="Child Training name.")
    parameters: dict[str, ParamValue] = Field(default_factory=dict, max_length=bounds.MAX_PARAMETERS,
                                              description="Sampled values.")
    phase: TrainingPhase | None = Field(default=None, description="Trial phase.")
    objective: float | None = Field(default=None, description="Objective value reached.")


class TrainingStatus(CamelModel):
    """Two writers, disjoint fields, merge patches only."""

    # Written by the operator.
    phase: TrainingPhase | None = Field(default=None, description="Lifecycle phase.")
    conditions: list[Condition] = Field(default_factory=list, max_length=bounds.MAX_CONDITIONS,
                                        description="Standard conditions.")
    message: str | None = Field(default=None, max_length=4096, description="Why the phase is what it is.")
    job_name: str | None = Field(default=None, max_length=63, description="The Job running this training.")
    start_time: datetime | None = Field(default=None, description="When the training first ran.")
    completion_time: datetime | None = Field(default=None, description="When it ended.")
    attempts: int | None = Field(default=None, ge=0, description="Pod attempts so far (group attempts with nodes > 1).")
    nodes: str | None = Field(default=None, max_length=256, description="Pods of a multi-node run, e.g. 2/2 Running.")
    node_states: list[NodeState] | None = Field(default=None, max_length=64, description="Each node's pod.")
    observed_generation: int | None = Field(default=None, description="Generation last reconciled.")
    inference_service: str | None = Field(default=None, max_length=253,
                                          description="InferenceService serving the result.")
    trials: list[TrialStatus] | None = Field(default=None, max_length=256, description="HPO trials.")
    best_trial: str | None = Field(default=None, max_length=253, description="Best HPO trial by the objective.")
    # Written by the trainer pod.
    progress: Progress | None = Field(default=None, description="Progress of the run.")
    metrics: dict[str, float] | None = bounds.metrics_map(
        f"Latest metric values: at most {bounds.MAX_METRICS}, names of at most {bounds.MAX_METRIC_NAME} characters.")
    history: list[HistoryPoint] | None = Field(
        default=None, max_length=600, description="Downsampled loss / eval-loss / learning-rate curve."
    )
    summary: LossSummary | None = Field(default=None, description="Initial, final and best loss.")
    checkpoints: list[Checkpoint] | None = Field(default=None, max_length=50, description="Saved checkpoints.")
    output: str | None = Field(default=None, max_length=1024, description="Adapter or model location.")
    metrics_log: str | None = Field(default=None, max_length=1024, description="Full JSONL metric log.")
    tracking_url: str | None = Field(default=None, max_length=2048, description="The run in the tracking server.")
    gpu: list[GpuReading] | None = Field(default=None, max_length=MAX_GPU_READINGS,
                                         description="GPU readings of every node, by node then device.")
    kopf: dict[str, Any] | None = operator_bookkeeping()


OPERATOR_STATUS_FIELDS = frozenset(
    {"phase", "conditions", "message", "jobName", "startTime", "completionTime", "attempts",
     "observedGeneration", "inferenceService", "trials", "bestTrial", "nodes", "nodeStates"}
)
TRAINER_STATUS_FIELDS = frozenset(
    {"progress", "metrics", "history", "summary", "checkpoints", "output", "metricsLog", "gpu", "trackingUrl"}
)

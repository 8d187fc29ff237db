"""The four kinds kubetune defines: names, scope, columns and validation rules.

This module is the single source for the CRD YAML (`python -m kubetune.crd.generate`),
the chart's CRD templates and every client's group/version/plural constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from kubetune.crd.base import GROUP, VERSION
from kubetune.crd.dataset import DatasetSpec, DatasetStatus
from kubetune.crd.inferenceservice import InferenceServiceSpec, InferenceServiceStatus
from kubetune.crd.trainer import TrainerSpec, TrainerStatus
from kubetune.crd.training import SERVE_INTO_NEEDS_ADAPTER, SERVE_NEW_OR_INTO, TrainingSpec, TrainingStatus


@dataclass(frozen=True)
class Column:
    """A printer column for `kubectl get`."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class Rule:
    """A CEL validation rule attached at a dotted path of the schema ('' is the root)."""

    path: str
    rule: str
    message: str
    field_path: str | None = None


AGE = Column("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class Kind:
    """Everything needed to render one CRD and to address its objects."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = field(default=())
    categories: tuple[str, ...] = ("kubetune",)

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{VERSION}"

    def api_path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection or of one object."""
        base = f"/apis/{GROUP}/{VERSION}"
        if self.scope == "Namespaced" and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base

    def manifest(self, name: str, spec: BaseModel | dict[str, Any], namespace: str | None = None,
                 labels: dict[str, str] | None = None) -> dict[str, Any]:
        """A complete object of this kind, ready to send to the API server."""
        body = spec.model_dump(by_alias=True, exclude_none=True, mode="json") if isinstance(
            spec, BaseModel) else spec
        meta: dict[str, Any] = {"name": name}
        if namespace and self.scope == "Namespaced":
            meta["namespace"] = namespace
        if labels:
            meta["labels"] = labels
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta, "spec": body}


TRAINER = Kind(
    kind="Trainer",
    plural="trainers",
    singular="trainer",
    short_names=("ktr",),
    scope="Cluster",
    spec=TrainerSpec,
    status=TrainerStatus,
    description="A training runtime registered by administrators: image, supported tasks and methods, "
    "tunable parameters and a catalog of base models.",
    columns=(
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Valid and usable."),
        Column("Tasks", ".status.tasks", description="Supported tasks."),
        Column("Methods", ".status.methods", description="Supported methods."),
        Column("Trainings", ".status.trainings", "integer", "Trainings using this runtime."),
        AGE,
    ),
    rules=(
        Rule("spec.parameters[]", "!has(self.minimum) || !has(self.maximum) || self.minimum <= self.maximum",
             "minimum must not exceed maximum"),
    ),
)

TRAINING = Kind(
    kind="Training",
    plural="trainings",
    singular="training",
    short_names=("ktrain", "ktn"),
    scope="Namespaced",
    spec=TrainingSpec,
    status=TrainingStatus,
    description="One fine-tuning run: which Trainer, base model, dataset and hyperparameters. "
    "The operator runs it as a Job and the trainer pod reports progress into status.",
    columns=(
        Column("Phase", ".status.phase", description="Lifecycle phase."),
        Column("Progress", ".status.progress.percent", "number", "Percent complete (one decimal)."),
        Column("Steps", ".status.progress.steps", description="Optimizer steps done / planned."),
        Column("Loss", ".status.progress.loss", description="Latest training loss (four digits)."),
        Column("ETA", ".status.progress.eta", description="Time left."),
        Column("Reason", '.status.conditions[?(@.status=="True")].reason',
               description="Why the phase is what it is (ExitCode, OOMKilled, WaitingForDataset, ...)."),
        Column("Trainer", ".spec.trainerRef", priority=1, description="Runtime used."),
        Column("Method", ".spec.method", priority=1, description="lora, qlora or full."),
        Column("Nodes", ".status.nodes", priority=1, description="Pods of a multi-node run, e.g. 2/2 Running."),
        AGE,
    ),
    rules=(
        Rule("spec.dataset", "has(self.ref) != has(self.uri)", "dataset needs exactly one of ref or uri"),
        Rule("spec.hpo", "!self.enabled || size(self.parameters) > 0",
             "hpo.enabled needs at least one parameter to search"),
        Rule("spec.hpo", "self.parallelTrials <= self.maxTrials",
             "hpo.parallelTrials must not exceed hpo.maxTrials"),
        # `values` holds untyped scalars, which CEL cannot see; the operator checks that a
        # parameter has values or a range.
        Rule("spec.hpo.parameters[]", "!has(self.min) || !has(self.max) || self.min <= self.max",
             "an hpo parameter range needs min <= max"),
        Rule("spec", "self.method != 'qlora' || self.task == 'causal-lm'",
             "qlora is supported for the causal-lm task only", ".method"),
        Rule("spec.serve", "!has(self.into) || !has(self.enabled) || !self.enabled", SERVE_NEW_OR_INTO),
        Rule("spec", "!has(self.serve) || !has(self.serve.into) || !has(self.method) || self.method != 'full'",
             SERVE_INTO_NEEDS_ADAPTER, ".serve.into"),
        Rule(
            "",
            "!has(oldSelf.status) || !has(oldSelf.status.startTime) || "
            "(self.spec.task == oldSelf.spec.task && self.spec.method == oldSelf.spec.method && "
            "self.spec.baseModel == oldSelf.spec.baseModel && "
            # hyperparameters may be absent (no schema default): without has() every status write after the
            # start failed with "no such key", so a trainer could never report on such a Training.
            "has(self.spec.hyperparameters) == has(oldSelf.spec.hyperparameters) && "
            "(!has(self.spec.hyperparameters) || self.spec.hyperparameters == oldSelf.spec.hyperparameters))",
            "task, method, baseModel and hyperparameters are immutable once the training has started",
        ),
        Rule(
            "spec",
            "!has(self.dataset.format) || ((has(self.objective) && self.objective == 'dpo') == "
            "(self.dataset.format in ['openai-dpo', 'preference']))",
            "objective dpo needs a preference dataset (openai-dpo or preference), and preference formats "
            "need objective dpo",
            ".objective",
        ),
        Rule(
            "",
            "!has(oldSelf.status) || !has(oldSelf.status.startTime) || "
            "(has(self.spec.objective) ? self.spec.objective : 'supervised') == "
            "(has(oldSelf.spec.objective) ? oldSelf.spec.objective : 'supervised')",
            "objective is immutable once the training has started",
        ),
        Rule(
            "",
            # The Job's shape (pods, processes) and the run config the trainer reads must agree; a group
            # restart makes the Job from the spec again, so a change would meet pods shaped the old way.
            "!has(oldSelf.status) || !has(oldSelf.status.startTime) || "
            "((has(self.spec.nodes) ? self.spec.nodes : 1) == (has(oldSelf.spec.nodes) ? oldSelf.spec.nodes : 1) && "
            "has(self.spec.distributed) == has(oldSelf.spec.distributed) && "
            "(!has(self.spec.distributed) || self.spec.distributed == oldSelf.spec.distributed))",
            "nodes and distributed are immutable once the training has started",
        ),
    ),
)

INFERENCE_SERVICE = Kind(
    kind="InferenceService",
    plural="inferenceservices",
    singular="inferenceservice",
    short_names=("kis",),
    scope="Namespaced",
    spec=InferenceServiceSpec,
    status=InferenceServiceStatus,
    description="Serves a base model plus LoRA adapters, or the output of a Training, behind "
    "seed 002's inference API and OpenAI-compatible endpoints.",
    columns=(
        Column("Phase", ".status.phase", description="Lifecycle phase."),
        Column("Ready", ".status.readyReplicas", "integer", "Replicas ready."),
        Column("Model", ".status.modelVersion", description="Model version served."),
        Column("URL", ".status.url", description="In-cluster URL."),
        AGE,
    ),
    rules=(
        Rule("spec", "has(self.model) != has(self.trainingRef)",
             "an InferenceService needs exactly one of model or trainingRef"),
        Rule("spec", "!has(self.apiKeys) || !has(self.auth) || self.auth != 'none'",
             "apiKeys needs auth apiKey: a server without a key accepts every caller"),
        Rule("spec", "!has(self.runtime) || self.runtime != 'vllm' || self.task == 'causal-lm'",
             "runtime vllm serves causal-lm models only"),
        Rule("spec.autoscaling", "self.minReplicas <= self.maxReplicas",
             "autoscaling.minReplicas must not exceed maxReplicas"),
        Rule("spec.autoscaling", "!has(self.targetConcurrency) || !has(self.targetQueueDepth)",
             "autoscaling needs at most one of targetConcurrency and targetQueueDepth"),
    ),
)

DATASET = Kind(
    kind="Dataset",
    plural="datasets",
    singular="dataset",
    short_names=("kds",),
    scope="Namespaced",
    spec=DatasetSpec,
    status=DatasetStatus,
    description="A data file in the artifact store with its declared format; the operator validates it "
    "and records rows, size, hash and splits.",
    columns=(
        Column("Phase", ".status.phase", description="Lifecycle phase."),
        Column("Format", ".spec.format", priority=1, description="Declared format."),
        Column("Rows", ".status.rowCount", "integer", "Row count."),
        Column("Size", ".status.sizeBytes", "integer", "Size in bytes."),
        AGE,
    ),
)

ALL_KINDS: tuple[Kind, ...] = (TRAINER, TRAINING, INFERENCE_SERVICE, DATASET)

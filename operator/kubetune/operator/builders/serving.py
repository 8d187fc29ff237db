"""What an InferenceService serves: the resolved model, its adapters and a version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from kubetune.crd import labels as lbl
from kubetune.crd.inferenceservice import ModelSource

MODEL_FINGERPRINT = lbl.MODEL_FINGERPRINT


@dataclass(frozen=True)
class ServedModel:
    """A base model plus named adapters, everything as uris."""

    base_model: str
    adapters: dict[str, str] = field(default_factory=dict)
    # Adapters added by Trainings that serve into the service (serve_into.py): loaded at run time, never
    # the default one (the served name keeps answering with what the spec says; no rollout for them).
    trained: frozenset[str] = frozenset()

    @property
    def default_adapter(self) -> str:
        """What the served name selects: the spec's first adapter (for trainingRef, the Training's), or none."""
        return next((name for name in self.adapters if name not in self.trained), "")

    @classmethod
    def from_source(cls, source: ModelSource) -> ServedModel:
        return cls(source.base_model, {a.name: a.uri for a in source.adapters})

    @classmethod
    def from_training(cls, training: str, method: str, base_model: str, output: str) -> ServedModel:
        """A finished Training: full fine-tuning replaces the model, LoRA adds an adapter."""
        if method == "full":
            return cls(output)
        return cls(base_model, {training: output})

    def fingerprint(self) -> str:
        """Stable across operator restarts: what decides whether a rollout is a new version.

        The base model only: adapters are loaded into the running server (serving_runtime.py), no rollout.
        """
        blob = json.dumps({"base": self.base_model}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def next_model_version(
    current_version: str | None, current_fingerprint: str | None, model: ServedModel
) -> str:
    """v1 for a new Deployment; bumped when the served model changes; kept otherwise."""
    if current_version is None or current_fingerprint is None:
        return "v1"
    if current_fingerprint == model.fingerprint():
        return current_version
    digits = current_version.lstrip("v")
    return f"v{int(digits) + 1}" if digits.isdigit() else "v1"

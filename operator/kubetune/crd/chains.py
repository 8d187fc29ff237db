"""Chains of Trainings: what ``training://<name>`` and ``training://<name>/checkpoints/<step>`` are.

A Training's model is what it produced, expressed as weights to start from and an optional adapter:

- a full fine-tuning: its output (or a checkpoint's ``model/``) is the whole model, no adapter;
- LoRA/QLoRA: its output (or a checkpoint's ``adapter/``) is an adapter on the model that Training
  started from. When that was itself a chain, the child continued its parent's adapter (LoRA on LoRA)
  or trained a new one on full weights: either way the adapter sits on the chain's first full weights.

The final output is usable once the Training Succeeded (before that the referrer waits); a checkpoint
once it is listed in the Training's status. Only Trainings of the referrer's own namespace are looked
up (a uri names no namespace), and a chain that loops or runs deeper than MAX_DEPTH is refused.

Pure: the caller passes how to look a Training up and how to resolve a base that is not a chain
(a catalog id through the Trainer, a uri as written). The operator (Training -> run config,
InferenceService -> served model) and the facade use this one resolver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubetune.crd.references import InvalidReference, is_training_uri, parse_training_uri

MAX_DEPTH = 16
ADAPTER_DIR, MODEL_DIR = "adapter", "model"  # what the trainer writes in its output and in each checkpoint


@dataclass(frozen=True)
class ChainModel:
    """Weights to load (a uri, or a catalog id resolved by the caller) and the adapter on them, if any."""

    base_model: str
    adapter: str | None
    training: str  # the Training that produced it
    method: str
    step: int | None = None  # a checkpoint's step; None for the final output

    @property
    def name(self) -> str:
        """What a server calls the model: the Training's name, or <name>-step-<step> for a checkpoint."""
        return self.training if self.step is None else f"{self.training}-step-{self.step}"


@dataclass(frozen=True)
class Waiting:
    """The referenced Training has not produced the model yet; ``message`` says why."""

    message: str


Lookup = Callable[[str], Mapping[str, Any] | None]  # name -> {"spec": ..., "status": ...} in the namespace
BaseOf = Callable[[Mapping[str, Any]], str]  # a Training spec whose baseModel is no chain -> its weights


def _join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *parts])


def resolve_training_model(uri: str, lookup: Lookup, base_of: BaseOf, *, what: str = "baseModel",
                           referrer: str | None = None) -> ChainModel | Waiting:
    """The model ``uri`` names, or Waiting; InvalidReference for a uri that can never resolve."""
    return _resolve(uri, lookup, base_of, what, (referrer,) if referrer else ())


def _resolve(uri: str, lookup: Lookup, base_of: BaseOf, what: str, seen: tuple[str, ...]) -> ChainModel | Waiting:
    ref = parse_training_uri(uri, what)
    if ref.name in seen:
        raise InvalidReference(what, uri, f"makes a loop of Trainings ({' -> '.join([*seen, ref.name])})")
    if len(seen) >= MAX_DEPTH:
        raise InvalidReference(what, uri, f"is a chain of more than {MAX_DEPTH} Trainings")
    found = lookup(ref.name)
    if found is None:
        return Waiting(f"waiting for Training {ref.name} (not found in this namespace)")
    spec, status = found.get("spec") or {}, found.get("status") or {}
    method = str(spec.get("method") or "lora")
    sub = MODEL_DIR if method == "full" else ADAPTER_DIR
    if ref.step is None:
        phase = status.get("phase") or "Pending"
        if phase != "Succeeded" or not status.get("output"):
            return Waiting(f"waiting for Training {ref.name} to succeed (now {phase})")
        produced = str(status["output"])
    else:
        listed = {int(c.get("step", -1)): c.get("uri") for c in status.get("checkpoints") or ()}
        if ref.step not in listed or not listed[ref.step]:
            steps = ", ".join(str(s) for s in sorted(listed)) or "none yet"
            return Waiting(f"waiting for checkpoint {ref.step} of Training {ref.name} (listed: {steps})")
        produced = _join(str(listed[ref.step]), sub)
    if method == "full":
        return ChainModel(produced, None, ref.name, method, ref.step)
    parent_base = str(spec.get("baseModel") or "")
    if is_training_uri(parent_base):
        below = _resolve(parent_base, lookup, base_of, what, (*seen, ref.name))
        if isinstance(below, Waiting):  # it ran on that model, so this only happens while it is deleted
            return below
        return ChainModel(below.base_model, produced, ref.name, method, ref.step)
    return ChainModel(base_of(spec), produced, ref.name, method, ref.step)

"""Names of the OpenAI API on kubetune's objects (pure): ids, fine-tuned model names, annotations.

A file id is its Dataset's name, a job id its Training's name, both within the caller's project: an id
of another project is simply not found there. A fine-tuned model is
``ft:<base>:<project>:<suffix>:<training>`` and a checkpoint ``<that>:ckpt-step-<step>``, so the
gateway finds the Training from the name alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj

PREFIX = "openai.kubetune.io"
PURPOSE = f"{PREFIX}/purpose"  # on Datasets: the purpose the file was uploaded with
BYTES = f"{PREFIX}/bytes"  # on Datasets: the upload's size
MODEL = f"{PREFIX}/model"  # on Trainings: the `model` the job was created with
SUFFIX = f"{PREFIX}/suffix"
METADATA = f"{PREFIX}/metadata"  # JSON object, OpenAI's 16 key-value pairs
HYPERPARAMETERS = f"{PREFIX}/hyperparameters"  # JSON: the resolved OpenAI hyperparameters
METHOD = f"{PREFIX}/method"  # supervised | dpo
VALIDATION_FILE = f"{PREFIX}/validation-file"
CANCELLED = f"{PREFIX}/cancelled"  # "true" once cancelled: a cancelled job is never resumed
SOURCE_API = "openai"

SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9._-]{0,64}$")  # no ':' (it separates the name's parts)
CHECKPOINT_TAIL = re.compile(r"^ckpt-step-(\d{1,12})$")


@dataclass(frozen=True)
class FineTunedName:
    base: str
    project: str
    suffix: str
    job: str
    step: int | None = None


def base_name(model: str) -> str:
    """A base model as a name without ':' (`hf://org/m` -> `org/m`, `file:///x/m` -> `m`)."""
    if "://" not in model:
        return model
    scheme, rest = model.split("://", 1)
    if scheme == "hf":
        return rest.strip("/")
    if scheme == "training":
        return rest.strip("/").replace("/", "-")
    return rest.rstrip("/").rsplit("/", 1)[-1] or scheme


def fine_tuned_model(base: str, project: str, suffix: str, job: str) -> str:
    return f"ft:{base}:{project}:{suffix}:{job}"


def checkpoint_model(fine_tuned: str, step: int) -> str:
    return f"{fine_tuned}:ckpt-step-{step}"


def parse_fine_tuned(model: str) -> FineTunedName | None:
    """`ft:base:project:suffix:job[:ckpt-step-N]`, or None when `model` is not such a name."""
    if not model.startswith("ft:"):
        return None
    parts = model.split(":")
    step = None
    if len(parts) == 6:
        found = CHECKPOINT_TAIL.match(parts[5])
        if found is None:
            return None
        step = int(found.group(1))
        parts = parts[:5]
    if len(parts) != 5 or not parts[1] or not parts[2] or not parts[4]:
        return None
    return FineTunedName(base=parts[1], project=parts[2], suffix=parts[3], job=parts[4], step=step)


def training_model_name(training: Obj, project: str) -> str:
    """The fine-tuned model name of a Training (any Training: ones made by other APIs have no suffix)."""
    ann = meta.annotations_of(training)
    base = ann.get(MODEL) or base_name(str(meta.spec(training).get("baseModel") or ""))
    parent = parse_fine_tuned(base)  # a job continued from a fine-tuned model keeps the first base's name
    return fine_tuned_model(parent.base if parent else base, project, ann.get(SUFFIX, ""), meta.name(training))

"""Phase -> status word, for every family, in one table (docs/api.md renders it).

Stopped means the user stopped or cancelled it: seeds 001 and 003 have no word for
"stopped", so it reads as failed there (their clients treat both as "not running,
not completed"); seed 000 and 004 keep the distinction.
"""

from __future__ import annotations

from typing import Any

UNSET = ""  # no phase yet: the operator has not reconciled the object

TRAINING_STATUS: dict[str, dict[str, str]] = {
    #            sktai (000)   finetune (001) platform (003) aitems (004)
    UNSET:      {"sktai": "pending", "finetune": "unknown", "platform": "pending", "aitems": "requested"},
    "Pending":  {"sktai": "pending", "finetune": "pending", "platform": "pending", "aitems": "requested"},
    "Queued":   {"sktai": "queued", "finetune": "pending", "platform": "pending", "aitems": "requested"},
    "Running":  {"sktai": "running", "finetune": "running", "platform": "running", "aitems": "training"},
    "Stopping": {"sktai": "stopping", "finetune": "running", "platform": "running", "aitems": "stopping"},
    "Stopped":  {"sktai": "stopped", "finetune": "failed", "platform": "failed", "aitems": "stopped"},
    "Succeeded": {"sktai": "completed", "finetune": "completed", "platform": "completed", "aitems": "completed"},
    "Failed":   {"sktai": "failed", "finetune": "failed", "platform": "failed", "aitems": "failed"},
}

# InferenceServices in seed 003's task list.
INFERENCE_STATUS: dict[str, str] = {
    UNSET: "pending", "Pending": "pending", "Loading": "pending", "Ready": "running",
    "Failed": "failed", "Stopped": "completed",
}

# Datasets in seed 003's dataset list.
DATASET_STATUS: dict[str, str] = {
    UNSET: "pending", "Pending": "pending", "Validating": "validating", "Ready": "ready", "Invalid": "invalid",
}

# Models (InferenceServices) in seed 003's inference model list.
MODEL_STATUS: dict[str, str] = {
    UNSET: "pending", "Pending": "pending", "Loading": "loading", "Ready": "ready", "Failed": "failed",
    "Stopped": "stopped", "ScaledToZero": "scaled_to_zero",  # a call wakes it (the facade scales it up)
}


def phase_of(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or UNSET)


def training_status(obj: dict[str, Any], family: str) -> str:
    return TRAINING_STATUS.get(phase_of(obj), TRAINING_STATUS[UNSET])[family]


def phases_for(word: str, family: str) -> set[str]:
    """The phases a status word stands for (for filters)."""
    return {phase for phase, words in TRAINING_STATUS.items() if words[family] == word}


def words(family: str) -> list[str]:
    return sorted({w[family] for w in TRAINING_STATUS.values()})

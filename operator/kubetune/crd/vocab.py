"""The words shared by every resource: tasks, methods, phases, formats."""

from __future__ import annotations

from typing import Literal, get_args

Task = Literal["causal-lm", "sequence-classification", "image-classification"]
Method = Literal["lora", "qlora", "full"]

TrainingPhase = Literal["Pending", "Queued", "Running", "Stopping", "Stopped", "Succeeded", "Failed"]
InferencePhase = Literal["Pending", "Loading", "Ready", "Failed", "Stopped", "ScaledToZero"]
DatasetPhase = Literal["Pending", "Validating", "Ready", "Invalid"]

DatasetFormat = Literal[
    "openai_chat_jsonl",
    "openai_chat_json_schema_jsonl",
    "openai_chat_toolcall_jsonl",
    "huggingface_chat_template_jsonl",
    "huggingface_chat_template_toolcall_jsonl",
    "vertex_gemini",
    "alpaca",
    "prompt_completion",
    "text_classification",
    "image_classification",
    "openai-dpo",
    "preference",
]
# What a causal-lm Training optimises: next-token loss on completions, or DPO on preference pairs.
Objective = Literal["supervised", "dpo"]
DpoLoss = Literal["sigmoid", "ipo"]
DataStrategy = Literal[
    "final_only",
    "two_message_cot",
    "final_and_intermediate",
    "final_and_intermediate_r1_compatible",
]
Scheduler = Literal["linear", "cosine", "constant", "constant_with_warmup"]

# Preference pairs (prompt, chosen, rejected): the only formats the dpo objective learns from.
PREFERENCE_FORMATS = frozenset({"openai-dpo", "preference"})

# The dataset formats each task can learn from (the rest are for export only).
TASK_FORMATS: dict[str, frozenset[str]] = {
    "causal-lm": frozenset(get_args(DatasetFormat))
    - {"text_classification", "image_classification"},
    "sequence-classification": frozenset({"text_classification"}),
    "image-classification": frozenset({"image_classification"}),
}

TASKS: tuple[str, ...] = get_args(Task)
METHODS: tuple[str, ...] = get_args(Method)
OBJECTIVES: tuple[str, ...] = get_args(Objective)
TERMINAL_TRAINING_PHASES = frozenset({"Succeeded", "Failed"})

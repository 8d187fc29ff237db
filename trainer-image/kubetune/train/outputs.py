"""Final artifacts: the adapter (or full weights) with config and tokenizer, a model card, merged weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import TrainRunConfig

ADAPTER_DIR = "adapter"
MODEL_DIR = "model"
MERGED_DIR = "merged"
METRICS_LOG = "metrics.jsonl"
MODEL_CARD = "README.md"


def save_model(
    model: Any, processor: Any, config: TrainRunConfig, output: Path, state_dict: dict[str, Any] | None = None
) -> Path:
    """The adapter (lora/qlora) or the whole model (full), as safetensors, beside the processor.

    ``state_dict``: the weights gathered from sharded ranks (FSDP), saved instead of the module's own.
    """
    target = output / (MODEL_DIR if config.method == "full" else ADAPTER_DIR)
    target.mkdir(parents=True, exist_ok=True)
    extra = {"state_dict": state_dict} if state_dict is not None else {}
    model.save_pretrained(target, safe_serialization=True, **extra)
    processor.save_pretrained(target)
    return target


def save_merged(model: Any, processor: Any, output: Path) -> Path:
    """LoRA folded into the base weights: a standalone model for servers without peft."""
    merged = model.merge_and_unload()
    target = output / MERGED_DIR
    merged.save_pretrained(target, safe_serialization=True)
    processor.save_pretrained(target)
    return target


def model_card(
    config: TrainRunConfig, summary: dict[str, Any], metrics: dict[str, float], trainable: tuple[int, int]
) -> str:
    """A Markdown model card with the configuration and the final metrics."""
    hp = config.hyperparameters.model_dump(by_alias=True, exclude_none=True, mode="json")
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(metrics.items()))
    losses = "\n".join(f"- {k}: {v}" for k, v in summary.items() if v is not None)
    return f"""---
library_name: {"peft" if config.method != "full" else "transformers"}
base_model: {config.base_model}
tags: [kubetune, {config.task}, {config.method}]
---

# Fine-tuned with kubetune

- Task: `{config.task}`; method: `{config.method}`
- Base model: `{config.base_model}`
- Dataset: `{config.dataset.uri}` (format `{config.dataset.format}`, strategy `{config.dataset.data_strategy}`)
- Trainable parameters: {trainable[0]:,} of {trainable[1]:,}

## Loss

{losses}

## Final metrics

| metric | value |
|---|---|
{rows}

## Configuration

```json
{json.dumps({"hyperparameters": hp}, indent=2)}
```
"""

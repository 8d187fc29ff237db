"""Runs of ``kubetune-train`` as real processes (the launcher and torchrun's workers): configs, the
child environment, the metric log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_config(model: Path, data: Path, out: Path, *, distributed: dict[str, Any] | None = None, **hp: Any) -> dict:
    """A run config as the operator writes it (camelCase); LoRA dropout off so ranks draw no randomness."""
    method = hp.pop("method", "lora")
    return {
        "baseModel": str(model),
        "method": method,
        "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
        "output": str(out),
        "hyperparameters": {"learningRate": 1e-2, "seed": 7, "loraDropout": 0.0, "saveTotalLimit": 10, **hp},
        "reporting": {"terminationLog": str(out.parent / f"{out.name}-termination-log")},
        "distributed": distributed or {},
    }


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def write_config(config: dict, path: Path) -> Path:
    path.write_text(json.dumps(config))
    return path


def start_cli(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """``kubetune-train --config FILE`` as the pod runs it (no status reporting here)."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "kubetune.train.cli", "--config", str(config_path), "--no-report"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )


def logged_losses(out: Path) -> list[float]:
    """The training losses rank 0 logged, by step."""
    entries = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    by_step = {e["step"]: e["loss"] for e in entries if "loss" in e}
    return [by_step[s] for s in sorted(by_step)]

"""Runs of ``kubetune-train`` as real processes (the launcher and torchrun's workers): configs, the
child environment, the metric log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
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


def logged_steps(out: Path) -> list[int]:
    """Steps in rank 0's metric log so far (none before the first step)."""
    log = out / "metrics.jsonl"
    if not log.is_file():
        return []
    return [json.loads(line)["step"] for line in log.read_text().splitlines() if line.endswith("}")]


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    """Poll ``condition`` until it holds; fails at once if the process ends first (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the trainer exited with {process.returncode} before the condition held")
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def free_port() -> int:
    """A free TCP port on the loopback interface (for a rendezvous store)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_node(config_path: Path, log: Path, index: int, endpoint: str) -> subprocess.Popen[bytes]:
    """One pod of a multi-node Training: the Indexed Job's index and the operator's rendezvous env."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "kubetune.train.cli", "--config", str(config_path), "--no-report"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={
                **child_env(),
                "JOB_COMPLETION_INDEX": str(index),
                "KUBETUNE_RDZV_ENDPOINT": endpoint,
                "KUBETUNE_LOCAL_ADDR": "127.0.0.1",
            },
        )

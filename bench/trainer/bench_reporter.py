"""Training-thread cost of reporting: what one step's notification costs the loop.

Run::

    .venv/bin/python bench/trainer/bench_reporter.py --steps 20000

It drives ``runner.Progress`` (metric log, history, status update) with a
reporter whose API server is unreachable (the worst case: every patch fails
and is retried in the background) and prints microseconds per step, to be
compared with a step's duration (the issue's bound: under 1%).
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.kubeapi import KubeApi
from kubetune.train.metrics import MetricsTracker
from kubetune.train.reporter import StatusReporter
from kubetune.train.runner import Progress


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(steps: int, log_dir: Path) -> dict[str, Any]:
    config = TrainRunConfig.model_validate(
        {
            "baseModel": "m",
            "output": str(log_dir),
            "dataset": {"uri": "d", "format": "alpaca"},
            "reporting": {"intervalSeconds": 5.0},
        }
    )
    api = KubeApi(f"http://127.0.0.1:{_dead_port()}", token="t", timeout=1.0)
    reporter = StatusReporter(api, "ns", "run", interval=5.0, backoff=0.5, max_backoff=5.0)
    progress = Progress(config, MetricsTracker(log_dir / "metrics.jsonl"), reporter)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        progress(
            "step",
            {
                "step": step,
                "epoch": step / 1000,
                "loss": 5.0 / step,
                "learning_rate": 1e-4,
                "grad_norm": 1.0,
                "tokens_per_second": 1e4,
                "eta_seconds": 10.0,
                "total_steps": steps,
            },
        )
    per_step = (time.perf_counter() - started) / steps
    reporter.close(timeout=0.1)
    return {
        "steps": steps,
        "microseconds_per_step": round(per_step * 1e6, 1),
        "share_of_100ms_step_percent": round(per_step / 0.1 * 100, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(args.steps, Path(tmp)), indent=1))


if __name__ == "__main__":
    main()

"""The metric record stream: the full JSONL log, the bounded history and the loss summary."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

HISTORY_KEYS = ("step", "epoch", "loss", "eval_loss", "learning_rate")
# DPO's reward curves join the history under names a status field can have.
HISTORY_ALIASES = {
    "rewards/margin": "reward_margin",
    "rewards/accuracy": "reward_accuracy",
    "eval_rewards/margin": "eval_reward_margin",
    "eval_rewards/accuracy": "eval_reward_accuracy",
}


def downsample(points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` points, evenly spread, always keeping the first, the last and the best."""
    if len(points) <= limit:
        return list(points)
    keep = {0, len(points) - 1}
    for key in ("loss", "eval_loss"):
        scored = [(p[key], i) for i, p in enumerate(points) if p.get(key) is not None]
        if scored:
            keep.add(min(scored)[1])
    room = max(limit - len(keep), 0)
    if room:
        stride = (len(points) - 1) / (room + 1)
        keep.update(round(stride * k) for k in range(1, room + 1))
    chosen = sorted(keep)
    while len(chosen) > limit:  # rounding collisions can only shrink the set; this guards the bound
        chosen.pop(len(chosen) // 2)
    return [points[i] for i in chosen]


class MetricsTracker:
    """Collects step and eval records, appends them to a JSONL file, derives status fields."""

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path
        self.points: dict[int, dict[str, Any]] = {}
        self.latest: dict[str, float] = {}
        self.on_record: Callable[[dict[str, Any]], None] | None = None  # e.g. live MLflow tracking

    def record(self, entry: dict[str, Any]) -> None:
        """Add one record (``step`` plus numbers); it goes to the JSONL log as it is."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
        self._merge(entry)
        if self.on_record is not None:
            self.on_record(entry)

    def _merge(self, entry: dict[str, Any]) -> None:
        point = self.points.setdefault(int(entry["step"]), {"step": int(entry["step"])})
        for key, value in entry.items():
            if key in HISTORY_KEYS and key != "step" and value is not None:
                point[key] = value
            elif key in HISTORY_ALIASES and value is not None:
                point[HISTORY_ALIASES[key]] = value
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                self.latest[key] = float(value)

    def restore(self, up_to_step: int) -> None:
        """After a resume: keep the log's records up to the checkpoint, drop the rest from the file."""
        if self.log_path is None or not self.log_path.is_file():
            return
        kept = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if int(entry.get("step", 0)) <= up_to_step:
                kept.append(line)
                self._merge(entry)
        self.log_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def history(self, limit: int) -> list[dict[str, Any]]:
        """The curve for status.history (snake_case keys)."""
        return downsample([self.points[s] for s in sorted(self.points)], limit)

    def summary(self) -> dict[str, float | None]:
        """Initial, final and best training loss, best eval loss."""
        losses = [self.points[s]["loss"] for s in sorted(self.points) if "loss" in self.points[s]]
        evals = [p["eval_loss"] for p in self.points.values() if "eval_loss" in p]
        return {
            "initial_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None,
            "best_loss": min(losses) if losses else None,
            "best_eval_loss": min(evals) if evals else None,
        }

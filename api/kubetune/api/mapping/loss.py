"""Loss curves from a Training's status history or its JSONL metric log (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj


def downsample(points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most `limit` points, evenly spread, first and last kept."""
    if len(points) <= limit:
        return points
    if limit == 1:
        return [points[-1]]
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def from_history(training: Obj) -> list[dict[str, Any]]:
    return [{"step": p.get("step", 0), "loss": p.get("loss"), "epoch": p.get("epoch"),
             "eval_loss": p.get("evalLoss")} for p in meta.status(training).get("history") or []
            if p.get("loss") is not None or p.get("evalLoss") is not None]


def from_log(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of the trainer's metric log that carry a loss (`step`, `loss`, `epoch`, `eval_loss`)."""
    points = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            continue
        loss, eval_loss = row.get("loss"), row.get("eval_loss", row.get("evalLoss"))
        if loss is None and eval_loss is None:
            continue
        points.append({"step": row["step"], "loss": loss, "epoch": row.get("epoch"), "eval_loss": eval_loss})
    return points


def summary(training: Obj, points: list[dict[str, Any]]) -> dict[str, float | None]:
    st = meta.status(training).get("summary") or {}
    losses = [p["loss"] for p in points if isinstance(p.get("loss"), (int, float))]
    return {
        "initial_loss": st.get("initialLoss", losses[0] if losses else None),
        "final_loss": st.get("finalLoss", losses[-1] if losses else None),
        "best_loss": st.get("bestLoss", min(losses) if losses else None),
    }

"""Progress frames for the training SSE stream, from what the trainer pod writes into status.

The trainer patches status.progress (step, total, epoch, percent, ETA, tokens/s) and status.metrics
(loss, eval_loss, learning_rate, ...) together; the stream turns each new step into one `progress`
frame, so a client draws a bar that moves step by step without polling.
"""

from __future__ import annotations

from typing import Any

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def snapshot(training: Obj) -> dict[str, Any] | None:
    """The progress a client shows, or None before the trainer reported anything."""
    st = meta.status(training)
    progress = st.get("progress") or {}
    if not progress:
        return None
    metrics = st.get("metrics") or {}
    return {
        "phase": st.get("phase") or "Pending",
        "step": int(progress.get("step") or 0),
        "total_steps": int(progress.get("totalSteps") or 0),
        "percent": _number(progress.get("percent")) or 0.0,
        "epoch": _number(progress.get("epoch")),
        "loss": _number(metrics.get("loss")),
        "eval_loss": _number(metrics.get("eval_loss")),
        "learning_rate": _number(metrics.get("learning_rate")),
        "tokens_per_second": _number(progress.get("tokensPerSecond")),
        "eta_seconds": _number(progress.get("etaSeconds")),
    }


def changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    """A new frame is due when the step or a reported number moved (not on metadata-only updates)."""
    if after is None:
        return False
    if before is None:
        return True
    keys = ("step", "total_steps", "loss", "eval_loss")
    return any(before.get(k) != after.get(k) for k in keys)


def final(training: Obj, deleted: bool = False) -> dict[str, Any]:
    """The last frame of a stream: how the Training ended."""
    st = meta.status(training)
    return {"phase": "Deleted" if deleted else st.get("phase"), "message": st.get("message"),
            "progress": snapshot(training), "summary": st.get("summary")}


def ended(training: Obj) -> bool:
    return meta.status(training).get("phase") in TERMINAL_PHASES

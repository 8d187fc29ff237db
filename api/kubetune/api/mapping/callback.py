"""An external trainer's callback -> the status fields the in-cluster reporter writes (pure)."""

from __future__ import annotations

from typing import Any

from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.sktai import TrainingTaskCallback
from kubetune.crd.bounds import MAX_METRICS

MAX_HISTORY = 600  # TrainingStatus.history's bound


def bounded(history: list[dict[str, Any]], limit: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """Halve the resolution of the older half until it fits; the newest points stay exact."""
    while len(history) > limit:
        half = len(history) // 2
        history = history[:half:2] + history[half:]
    return history


def status_patch(training: Obj, cb: TrainingTaskCallback) -> dict[str, Any]:
    st = meta.status(training)
    old = st.get("progress") or {}
    total = cb.total_steps if cb.total_steps is not None else int(old.get("totalSteps") or 0)
    percent = cb.percent if cb.percent is not None else (min(100.0, 100.0 * cb.step / total) if total else 0.0)
    progress = {"step": cb.step, "totalSteps": total, "epoch": cb.epoch if cb.epoch is not None else
                old.get("epoch", 0), "percent": round(percent, 2)}
    if cb.eta_seconds is not None:
        progress["etaSeconds"] = cb.eta_seconds
    if cb.tokens_per_second is not None:
        progress["tokensPerSecond"] = cb.tokens_per_second
    metrics = dict(st.get("metrics") or {})
    metrics.update(cb.metrics)
    point: dict[str, Any] = {"step": cb.step}
    for key, value in (("epoch", cb.epoch), ("loss", cb.loss), ("evalLoss", cb.eval_loss),
                       ("learningRate", cb.learning_rate)):
        if value is not None:
            point[key] = value
    for key, value in (("loss", cb.loss), ("eval_loss", cb.eval_loss), ("learning_rate", cb.learning_rate)):
        if value is not None:
            metrics[key] = value
    if len(metrics) > MAX_METRICS:
        # Names accumulate over callbacks: refuse the one that would pass the CRD's bound, whole.
        new = sorted(set(metrics) - set(st.get("metrics") or {}))
        raise ApiError(422, f"a training keeps at most {MAX_METRICS} metric names; this callback would make "
                            f"{len(metrics)} (new: {', '.join(new[:5])}{', ...' if len(new) > 5 else ''})",
                       details={"max_metrics": MAX_METRICS, "new": new[:MAX_METRICS]})
    history = [p for p in st.get("history") or [] if p.get("step") != cb.step]
    if len(point) > 1:
        history = bounded(sorted([*history, point], key=lambda p: p.get("step", 0)))
    summary = dict(st.get("summary") or {})
    if cb.loss is not None:
        summary.setdefault("initialLoss", cb.loss)
        summary["finalLoss"] = cb.loss
        summary["bestLoss"] = min(cb.loss, summary.get("bestLoss", cb.loss))
    if cb.eval_loss is not None:
        summary["bestEvalLoss"] = min(cb.eval_loss, summary.get("bestEvalLoss", cb.eval_loss))
    patch: dict[str, Any] = {"progress": progress, "metrics": metrics, "history": history}
    if summary:
        patch["summary"] = summary
    if cb.gpu is not None:
        patch["gpu"] = [{k: v for k, v in {
            "index": g.index, "name": g.name, "utilizationPercent": g.utilization_percent,
            "memoryUsedMb": g.memory_used_mb, "memoryTotalMb": g.memory_total_mb,
            "temperatureC": g.temperature_c, "powerWatts": g.power_watts}.items() if v is not None}
            for g in cb.gpu]
    return {"status": patch}

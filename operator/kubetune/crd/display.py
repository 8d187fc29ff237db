"""Short texts for `kubectl get` columns, written next to the numbers they summarise.

Printer columns cannot format: a float column prints every digit and an array prints as JSON. The
trainer and the operator therefore also write these strings (step/total, ETA, a rounded loss, a Trainer's
tasks), and the columns in kinds.py point at them. Torch-free: the trainer, operator and tests share it.
"""

from __future__ import annotations

from collections.abc import Iterable


def steps(step: int, total: int) -> str:
    return f"{step}/{total}" if total else str(step)


def duration(seconds: float | None) -> str:
    """3h05m, 12m30s, 45s; empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def loss(value: float | None) -> str:
    """Four significant digits: 2.346, 0.01234."""
    return "" if value is None else f"{value:.4g}"


def percent(value: float) -> float:
    return round(value, 1)


def words(items: Iterable[str]) -> str:
    return ", ".join(items)

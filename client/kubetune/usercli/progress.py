"""The `watch` line: step, loss, ETA and tokens/s from a `progress` frame (a pure function, tested alone)."""

from __future__ import annotations

from typing import Any

BLOCKS = " ▁▂▃▄▅▆▇█"


def bar(percent: float, width: int = 24) -> str:
    filled = int(width * min(max(percent, 0.0), 100.0) / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def progress_line(frame: dict[str, Any]) -> str:
    percent = float(frame.get("percent") or 0.0)
    parts = [f"{frame.get('phase') or 'Pending':<10}", bar(percent), f"{percent:5.1f}%",
             f"step {frame.get('step', 0)}/{frame.get('total_steps', 0)}"]
    loss = frame.get("loss")
    if isinstance(loss, int | float):
        parts.append(f"loss {loss:.4f}")
    eta = frame.get("eta_seconds")
    if isinstance(eta, int | float):
        parts.append(f"eta {_eta(eta)}")
    tps = frame.get("tokens_per_second")
    if isinstance(tps, int | float):
        parts.append(f"{tps:.0f} tok/s")
    return " ".join(parts)


def sparkline(values: list[float]) -> str:
    """A terminal loss curve: one block character per value, scaled between the min and max."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(BLOCKS[1 + int((v - lo) / span * (len(BLOCKS) - 2))] for v in values)

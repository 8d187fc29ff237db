"""Why one pod's attempt failed, in words a user reads (shared by single pods and groups of pods)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pod_failure(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, message) of a failed attempt: OOMKilled, a non-zero exit with the termination message."""
    term = pod["state"].get("terminated") or pod["lastState"].get("terminated")
    if term:
        code, detail = term.get("exitCode"), (term.get("message") or "").strip()
        if term.get("reason") == "OOMKilled":
            text = f"out of memory (OOMKilled, exit code {code})"
            return "OOMKilled", f"{text}: {detail}" if detail else text
        if code not in (None, 0):
            text = f"exited with code {code}"
            return "ExitCode", f"{text}: {detail}" if detail else text
    if pod["phase"] == "Failed":
        reason = pod.get("reason") or "PodFailed"
        return reason, pod.get("message") or f"pod {pod['name']} failed ({reason})"
    return None

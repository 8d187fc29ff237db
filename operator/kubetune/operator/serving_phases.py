"""Deployment + server pods -> an InferenceService's phase. Pure, like phases.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubetune.operator.phases import IMAGE_FAILURES, waiting_state

# One crash can be a hiccup (a port still held, a volume late); repeated crashes are a failure.
CRASHES_BEFORE_FAILED = 2


@dataclass(frozen=True)
class ServingState:
    phase: str
    reason: str
    message: str
    ready_replicas: int = 0


def _crash(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """A server that keeps dying: OOMKilled, or crash looping with its exit code and last words."""
    waiting = pod["state"].get("waiting") or {}
    last = pod["lastState"].get("terminated") or pod["state"].get("terminated")
    if last and last.get("reason") == "OOMKilled":
        return "OOMKilled", f"the server ran out of memory (OOMKilled) {pod['restarts']} time(s)"
    if waiting.get("reason") == "CrashLoopBackOff" and pod["restarts"] >= CRASHES_BEFORE_FAILED:
        detail = ""
        if last:
            detail = f": last exit code {last.get('exitCode')}"
            if last.get("message"):
                detail += f": {last['message'].strip()}"
        return "CrashLoopBackOff", f"the server keeps crashing{detail}"
    if waiting.get("reason") in IMAGE_FAILURES:
        return (
            "ImagePullError",
            f"cannot pull the server image ({waiting['reason']}): {waiting.get('message', '')}",
        )
    return None


def serving_state(
    deployment: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]], suspended: bool,
    scales_to_zero: bool = False,
) -> ServingState:
    """Stopped, ScaledToZero (idle, woken by the next request), Pending, Loading (no replica ready yet),
    Ready, or Failed with the reason."""
    if suspended:
        return ServingState("Stopped", "Suspended", "suspended: scaled to zero")
    if deployment is None:
        return ServingState("Pending", "DeploymentNotCreated", "waiting for the Deployment to be created")
    ready = deployment["readyReplicas"]
    if deployment["replicas"] == 0 and scales_to_zero:
        return ServingState("ScaledToZero", "Idle", "scaled to zero while idle; the next request through the "
                            "facade scales it back up", ready)
    if deployment["replicas"] == 0:
        return ServingState("Stopped", "ScaledToZero", "replicas is 0", ready)
    if ready > 0:
        return ServingState("Ready", "Ready", f"{ready}/{deployment['replicas']} replica(s) ready", ready)
    live = [p for p in pods if not p["deleting"]]
    for pod in live:
        crash = _crash(pod)
        if crash:
            return ServingState("Failed", crash[0], crash[1], ready)
    for cond in deployment["conditions"]:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return ServingState(
                "Failed", "ProgressDeadlineExceeded", cond.get("message") or "rollout stuck", ready
            )
    for pod in live:
        waiting = waiting_state(pod)
        if waiting is not None:
            return ServingState("Loading", waiting.reason, waiting.message, ready)
    return ServingState(
        "Loading", "Loading", "loading the model: waiting for a replica to pass /readyz", ready
    )

"""Deployment + server pods -> InferenceService phase."""

from __future__ import annotations

from typing import Any

from kubetune.operator.observed import deployment_view, pod_view
from kubetune.operator.serving_phases import serving_state


def deployment(replicas: int = 1, ready: int = 0, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return deployment_view(
        {
            "metadata": {"name": "s-server"},
            "spec": {"replicas": replicas},
            "status": {"readyReplicas": ready, "conditions": conditions or []},
        }
    )


def server_pod(state: dict[str, Any], last: dict[str, Any] | None = None, restarts: int = 0) -> dict[str, Any]:
    return pod_view(
        {
            "metadata": {"name": "p", "creationTimestamp": "1"},
            "spec": {"nodeName": "n"},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {"state": state, "lastState": last or {}, "restartCount": restarts, "ready": False}
                ],
            },
        }
    )


def test_loading_until_a_replica_is_ready_then_ready() -> None:
    loading = serving_state(deployment(), [server_pod({"running": {}})], suspended=False)
    assert loading.phase == "Loading"
    ready = serving_state(deployment(replicas=2, ready=1), [], suspended=False)
    assert (ready.phase, ready.ready_replicas, ready.message) == ("Ready", 1, "1/2 replica(s) ready")


def test_crash_loop_fails_with_exit_code() -> None:
    pod = server_pod(
        {"waiting": {"reason": "CrashLoopBackOff"}},
        {"terminated": {"exitCode": 3, "reason": "Error", "message": "no such model"}},
        restarts=4,
    )
    state = serving_state(deployment(), [pod], suspended=False)
    assert (state.phase, state.reason) == ("Failed", "CrashLoopBackOff")
    assert "last exit code 3: no such model" in state.message


def test_a_single_crash_is_still_loading() -> None:
    pod = server_pod({"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 1}}, restarts=1)
    assert serving_state(deployment(), [pod], suspended=False).phase == "Loading"


def test_oom_and_image_pull_fail_with_their_reasons() -> None:
    oom = server_pod(
        {"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    )
    assert serving_state(deployment(), [oom], suspended=False).reason == "OOMKilled"
    pull = server_pod({"waiting": {"reason": "ImagePullBackOff", "message": "x"}})
    assert serving_state(deployment(), [pull], suspended=False).reason == "ImagePullError"


def test_suspended_or_zero_replicas_is_stopped() -> None:
    assert serving_state(deployment(), [], suspended=True).phase == "Stopped"
    assert serving_state(deployment(replicas=0), [], suspended=False).phase == "Stopped"
    assert serving_state(None, [], suspended=False).phase == "Pending"

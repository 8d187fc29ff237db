"""A group of pods that train together (a multi-node Training's Indexed Job). Pure: views in, decisions out.

The group runs or fails as one: the Job fails at its first failed pod (backoffLimit 0) and the
Job controller ends the others; the operator then deletes the Job and makes a new one, which
resumes from the latest checkpoint, until the Training's backoffLimit is spent
(handlers/gang.py). Status shows each node compactly (`nodes: "2/2 Running"`, `nodeStates`)
and names the node that failed first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubetune.operator.failures import pod_failure

RESTARTABLE = frozenset({"BackoffLimitExceeded"})  # not PodFailurePolicy (permanent), not DeadlineExceeded
FAILING = frozenset({"Failed", "FailureTarget"})
SIGTERM_EXIT = 143


def is_group(job: Mapping[str, Any]) -> bool:
    return bool(job.get("indexed")) and int(job.get("completions") or 1) > 1


def current(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The pods of this Job (a restarted group's earlier pods may linger while they are deleted)."""
    uid = job.get("uid")
    return [p for p in pods if not uid or not p.get("jobUid") or p.get("jobUid") == uid]


def _node_phase(pod: Mapping[str, Any]) -> tuple[str, str]:
    failure = pod_failure(pod)
    if pod["phase"] == "Failed" or failure:
        return "Failed", failure[0] if failure else pod.get("reason") or "Failed"
    if pod["phase"] == "Succeeded":
        return "Succeeded", ""
    if pod["state"].get("running"):
        return "Running", ""
    waiting = pod["state"].get("waiting") or {}
    if waiting.get("reason"):
        return "Pending", str(waiting["reason"])
    unscheduled = any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in pod["conditions"])
    return "Pending", "Unschedulable" if unscheduled else ""


def node_states(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per node rank: its newest pod, phase and (when not running) why."""
    newest: dict[int, Mapping[str, Any]] = {}
    for pod in current(job, pods):
        index = pod.get("index")
        if index is None:
            continue
        if index not in newest or (pod["created"], pod["name"]) > (newest[index]["created"], newest[index]["name"]):
            newest[index] = pod
    states = []
    for index in range(int(job.get("completions") or 1)):
        found = newest.get(index)
        if found is None:
            states.append({"index": index, "phase": "Missing"})
            continue
        phase, reason = _node_phase(found)
        entry = {"index": index, "pod": found["name"], "phase": phase}
        if reason:
            entry["reason"] = reason
        states.append(entry)
    return states


def summary(states: Sequence[Mapping[str, Any]]) -> str:
    """`2/2 Running`, or `1/2 Running; node 1 Pending (ContainerCreating)`: what kubectl get shows."""
    total = len(states)
    for phase in ("Succeeded", "Running"):
        count = sum(1 for s in states if s["phase"] == phase)
        if count == total:
            return f"{total}/{total} {phase}"
    running = sum(1 for s in states if s["phase"] == "Running")
    others = [f"node {s['index']} {s['phase']}" + (f" ({s['reason']})" if s.get("reason") else "")
              for s in states if s["phase"] != "Running"]
    return "; ".join([f"{running}/{total} Running", *others])[:256]


def first_failure(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(reason, message) of the node that failed first: its peers' ends are consequences, not causes."""
    failed: list[tuple[Mapping[str, Any], tuple[str, str]]] = []
    for pod in current(job, pods):
        failure = pod_failure(pod)
        if failure is not None:
            failed.append((pod, failure))
    if not failed:
        return None

    def finished(item: tuple[Mapping[str, Any], tuple[str, str]]) -> tuple[str, bool, int]:
        term = item[0]["state"].get("terminated") or item[0]["lastState"].get("terminated") or {}
        # The peers the Job controller ends after the first failure finish later, or in the same second
        # (times have one-second steps) with SIGTERM's 143; unknown times sort last.
        return (term.get("finishedAt") or "~", term.get("exitCode") == SIGTERM_EXIT, int(item[0].get("index") or 0))

    first, (reason, message) = min(failed, key=finished)
    return reason, f"node {first.get('index')} (pod {first['name']}): {message}"


def restart_due(job: Mapping[str, Any], attempts: int, backoff_limit: int) -> bool:
    """A failed group whose failure may pass on retry, with attempts left: recreate it."""
    if not is_group(job) or job.get("deleting"):
        return False
    failing = [c for c in job["conditions"] if c.get("type") in FAILING and c.get("status") == "True"]
    if not failing or any(c.get("reason") not in RESTARTABLE for c in failing):
        return False
    return attempts <= backoff_limit

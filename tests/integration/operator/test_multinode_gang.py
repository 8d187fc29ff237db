"""A two-node Training on the local node: Indexed Job, headless Service, rendezvous by name, group restart.

The stand-in trainer does what torchrun's nodes do at the level the operator sees: node 1 finds
node 0 through the rendezvous endpoint (`<job>-0.<job>.<ns>.svc:<port>`, the Training's own port, resolved through the
local node's hosts file) and talks to it; in the first attempt node 1 waits to be killed and node 0
waits for a peer that never finishes (a hang, unless the group is restarted); in the second both finish.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from operator_waits import Obj, Resources, wait_for

from kubetune.operator.inprocess import OperatorThread

GANG_SCRIPT = r"""
import os, socket, sys, time
rank = int(os.environ["JOB_COMPLETION_INDEX"])
host, port = os.environ["KUBETUNE_RDZV_ENDPOINT"].rsplit(":", 1)
marker = os.path.join(os.environ["GANG_MARKER_DIR"], "killed-once")
if rank == 0:
    server = socket.create_server(("", int(port)))
    conn, _ = server.accept()
    words = conn.makefile().read().split()
    if words[-1:] == ["done"]:
        sys.exit(0)
    while True:  # a peer is lost: wait, as a collective would, until someone ends the group
        time.sleep(0.5)
deadline = time.time() + 120
while True:
    try:
        conn = socket.create_connection((host, int(port)), timeout=5)
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.2)
conn.sendall(b"hello\n")
if not os.path.exists(marker):
    # The host's pid (the host's /proc names it; os.getpid() is the one in the pod's PID namespace).
    open(marker + ".tmp", "w").write(os.readlink("/proc/self"))
    os.rename(marker + ".tmp", marker)
    while True:
        time.sleep(0.5)
conn.sendall(b"done\n")
conn.close()
"""


def _wait_file(path: Path, timeout: float = 120) -> None:
    """A file the stand-in trainer writes (no API object changes then, so there is nothing to watch)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.1)


def _pods(core: client.CoreV1Api, namespace: str, name: str) -> list[Any]:
    return list(core.list_namespaced_pod(namespace, label_selector=f"kubetune.io/training={name}").items)


def test_two_nodes_rendezvous_by_name_and_restart_together_when_one_is_killed(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    make_trainer: Callable[..., str], make_training: Callable[..., Obj], tmp_path: Path,
) -> None:
    trainer = make_trainer(command=[sys.executable, "-c", GANG_SCRIPT],
                           env=[{"name": "GANG_MARKER_DIR", "value": str(tmp_path)}])
    make_training("pair", trainerRef=trainer, nodes=2, backoffLimit=2)
    core, batch = client.CoreV1Api(api_client), client.BatchV1Api(api_client)
    marker = tmp_path / "killed-once"

    running = resources.wait("trainings", namespace, "pair",
                             lambda t: (t.get("status") or {}).get("nodes") == "2/2 Running")
    _wait_file(marker)  # node 1 reached node 0 by its name: it writes the marker after connecting
    assert [s["phase"] for s in running["status"]["nodeStates"]] == ["Running", "Running"]
    uid = running["metadata"]["uid"]
    job = batch.read_namespaced_job("pair-train", namespace)
    assert (job.spec.completion_mode, job.spec.completions, job.spec.parallelism, job.spec.backoff_limit) == (
        "Indexed", 2, 2, 0)
    assert job.spec.template.spec.subdomain == "pair-train"
    service = core.read_namespaced_service("pair-train", namespace)
    assert service.spec.cluster_ip == "None" and service.spec.publish_not_ready_addresses
    assert [r.uid for r in service.metadata.owner_references] == [uid]
    first_job_uid = job.metadata.uid

    pid = int(marker.read_text())
    assert "killed-once" in Path(f"/proc/{pid}/cmdline").read_text()  # node 1's trainer, nothing else
    os.kill(pid, signal.SIGKILL)  # it dies, as in an OOM kill

    done = resources.wait_phase("trainings", namespace, "pair", "Succeeded", "Failed")
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["attempts"] == 2
    assert status["nodes"] == "2/2 Succeeded"
    job = batch.read_namespaced_job("pair-train", namespace)
    assert job.metadata.uid != first_job_uid  # the group was made again, not patched
    assert job.metadata.annotations["kubetune.io/attempts-before"] == "1"
    restart = wait_for(core.list_namespaced_event, lambda e: e.get("reason") == "Restarting", namespace,
                       field_selector="involvedObject.name=pair")
    assert restart["type"] == "Warning" and "restarting all 2 nodes" in restart["message"]
    assert "node 1 (pod pair-train-1-" in restart["message"] and "exited with code 137" in restart["message"]
    assert not [p for p in _pods(core, namespace, "pair") if p.metadata.labels.get(
        "batch.kubernetes.io/controller-uid") == first_job_uid]  # the first group's pods went with its Job


def test_a_permanent_failure_fails_the_group_at_once(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj],
) -> None:
    make_training("doomed", behaviour="fail", extra={"exit_code": 78}, nodes=2, backoffLimit=3)
    failed = resources.wait_phase("trainings", namespace, "doomed", "Failed", "Succeeded")
    status = failed["status"]
    assert status["phase"] == "Failed"
    assert status["attempts"] == 1  # the podFailurePolicy's FailJob: no group restart
    assert "exited with code 78" in status["message"] and "node " in status["message"]


def test_the_group_stops_and_resumes_as_one(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    make_training("held", behaviour="sleep", nodes=2, backoffLimit=0)
    resources.wait("trainings", namespace, "held", lambda t: (t.get("status") or {}).get("nodes") == "2/2 Running")
    core, batch = client.CoreV1Api(api_client), client.BatchV1Api(api_client)
    job_uid = batch.read_namespaced_job("held-train", namespace).metadata.uid

    resources.patch("trainings", namespace, "held", {"spec": {"suspend": True}})
    stopped = resources.wait_phase("trainings", namespace, "held", "Stopped", "Failed")
    assert stopped["status"]["phase"] == "Stopped", stopped["status"]
    live = [p for p in _pods(core, namespace, "held") if p.status.phase in ("Pending", "Running")
                      and not p.metadata.deletion_timestamp]
    assert live == []  # every node of the group ended, none left holding its GPUs

    # The group's shape is fixed once it started: the Job and the trainer's run config must agree.
    with pytest.raises(ApiException) as refused:
        resources.patch("trainings", namespace, "held", {"spec": {"nodes": 3}})
    assert refused.value.status == 422 and "nodes and distributed are immutable" in str(refused.value.body)

    resources.patch("trainings", namespace, "held", {"spec": {"suspend": False}})
    resumed = resources.wait("trainings", namespace, "held", lambda t: (t.get("status") or {}).get("phase")
                             == "Running" and t["status"].get("nodes") == "2/2 Running")
    # Pods ended by a suspension are no failure: the same Job, no group restart, backoffLimit 0 untouched.
    assert batch.read_namespaced_job("held-train", namespace).metadata.uid == job_uid
    assert resumed["status"]["attempts"] == 1

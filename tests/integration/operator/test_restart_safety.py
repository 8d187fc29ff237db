"""Kill the operator (SIGKILL, a real process) at random moments while 50 Trainings are created.

Afterwards there is exactly one Job per Training, and every Training is in the
right phase (they are created suspended, so: Stopped, with the Job suspended).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client
from operator_waits import Obj, Resources

from kubetune.localdev.controlplane import ControlPlane

TRAININGS = 50
KILLS = 4


def start_operator(control_plane: ControlPlane, namespace: str, artifacts: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUBETUNE_OPERATOR_ARTIFACT_PVC": "",
        "KUBETUNE_OPERATOR_ARTIFACT_MOUNT_PATH": str(artifacts),
        "KUBETUNE_OPERATOR_METRICS_PORT": "0",
        "KUBETUNE_OPERATOR_HEALTH_PORT": "0",
        "KUBETUNE_OPERATOR_DEFAULT_BACKOFF_LIMIT": "0",
    }
    argv = [
        sys.executable,
        "-m",
        "kubetune.operator.main",
        "--kubeconfig",
        str(control_plane.kubeconfig),
        "-n",
        namespace,
        "--no-leader-election",
        "--log-format",
        "text",
    ]
    return subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.fixture
def creator(
    resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> Iterator[tuple[threading.Thread, Callable[[int], None]]]:
    """A thread creating the Trainings; wait_created(n) blocks until n exist (no sleeps)."""
    created = threading.Condition()
    count = [0]

    def run() -> None:
        for i in range(TRAININGS):
            make_training(f"r-{i:02d}", behaviour="sleep", suspend=True)
            with created:
                count[0] += 1
                created.notify_all()

    def wait_created(n: int) -> None:
        with created:
            created.wait_for(lambda: count[0] >= n, timeout=120)

    thread = threading.Thread(target=run, daemon=True)
    yield thread, wait_created
    thread.join(timeout=120)


def test_one_job_per_training_across_operator_kills(
    control_plane: ControlPlane,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    artifacts: Path,
    creator: tuple[threading.Thread, Callable[[int], None]],
    tmp_path: Path,
) -> None:
    thread, wait_created = creator
    rng = random.Random(20261122)
    kill_points = sorted(rng.sample(range(1, TRAININGS), KILLS))
    log = tmp_path / "operator.log"
    proc = start_operator(control_plane, namespace, artifacts, log)
    thread.start()
    try:
        for point in kill_points:
            wait_created(point)
            proc.send_signal(signal.SIGKILL)  # no chance to finish handlers or write anything
            proc.wait()
            proc = start_operator(control_plane, namespace, artifacts, log)
        thread.join(timeout=120)
        for i in range(TRAININGS):
            resources.wait_phase("trainings", namespace, f"r-{i:02d}", "Stopped", timeout=180)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    jobs = client.BatchV1Api(api_client).list_namespaced_job(namespace).items
    per_training = Counter(j.metadata.labels["kubetune.io/training"] for j in jobs)
    assert sorted(per_training) == [f"r-{i:02d}" for i in range(TRAININGS)], log.read_text()[-3000:]
    assert set(per_training.values()) == {1}
    assert all(j.spec.suspend for j in jobs)
    trainings = resources.custom.list_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings")
    for item in trainings["items"]:
        assert item["status"]["jobName"] == f"{item['metadata']['name']}-train"
        uid = item["metadata"]["uid"]
        job = next(j for j in jobs if j.metadata.name == item["status"]["jobName"])
        assert [r.uid for r in job.metadata.owner_references] == [uid]

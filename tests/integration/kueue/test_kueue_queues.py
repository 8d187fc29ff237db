"""Trainings admitted by a real Kueue controller on the real control plane: quota, queue positions, stop/start."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kube_waits import wait_for
from kubernetes import client

from kubetune.localdev.kueue import Kueue
from kubetune.operator.inprocess import OperatorThread

KUEUE = ("kueue.x-k8s.io", "v1beta2")
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def wait_training(custom: client.CustomObjectsApi, namespace: str, name: str,
                  predicate: Callable[[dict[str, Any]], bool], timeout: int = 120) -> dict[str, Any]:
    return dict(wait_for(custom.list_namespaced_custom_object, predicate, "kubetune.io", "v1alpha1", namespace,
                         "trainings", field_selector=f"metadata.name={name}", timeout=timeout))


def phase(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda o: (o.get("status") or {}).get("phase") in phases


def message_has(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda o: (o.get("status") or {}).get("phase") == "Queued" and text in (o["status"].get("message") or "")


def release(release_dir: Path, name: str) -> None:
    (release_dir / name).write_text("go")


def after_the_second_of(created: str) -> None:
    """Return once the clock has left the second of `created` (a creationTimestamp). Kubernetes timestamps count
    whole seconds and Kueue orders a queue by them, so of two Workloads made in one second either may be
    admitted first; one made after this returns is behind `created` for certain."""
    ends = datetime.fromisoformat(created.replace("Z", "+00:00")) + timedelta(seconds=1)
    while datetime.now(UTC) < ends:
        time.sleep(0.05)


def workload_of_job(custom: client.CustomObjectsApi, batch: client.BatchV1Api, namespace: str,
                    job: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    uid = batch.read_namespaced_job(job, namespace).metadata.uid
    return dict(wait_for(custom.list_namespaced_custom_object, predicate, *KUEUE, namespace, "workloads",
                         label_selector=f"kueue.x-k8s.io/job-uid={uid}"))


def test_second_training_waits_in_queue_with_its_position_and_runs_after_the_first(
    kueue_operator: OperatorThread, kueue: Kueue, custom: client.CustomObjectsApi, api_client: client.ApiClient,
    namespace: str, cluster_queue: Callable[[str], str], make_training: Callable[..., Any], release_dir: Path,
) -> None:
    cluster_queue("1")  # one CPU: one Training of one CPU at a time
    make_training("first")
    wait_training(custom, namespace, "first", phase("Running"))
    make_training("second")
    batch = client.BatchV1Api(api_client)
    wait_training(custom, namespace, "second", phase("Queued"))  # its Job exists
    after_the_second_of(workload_of_job(custom, batch, namespace, "second-train",
                                        lambda w: True)["metadata"]["creationTimestamp"])
    # The queue named by label instead of spec.queue: the same hand-off.
    make_training("third", queue=None, labels={QUEUE_LABEL: "gpu-a"})

    # With Kueue's own reason once its scheduler tried: not enough cpu quota.
    second = wait_training(custom, namespace, "second", message_has("insufficient unused quota for cpu"))
    assert second["status"]["message"].startswith("waiting in queue gpu-a, position 1: ")
    assert second["status"]["conditions"] and any(
        c["type"] == "Queued" and c["status"] == "True" and c["reason"] == "WaitingInQueue"
        for c in second["status"]["conditions"])
    wait_training(custom, namespace, "third", message_has("waiting in queue gpu-a, position 2"))

    job = batch.read_namespaced_job("second-train", namespace)
    assert job.spec.suspend is True and job.metadata.labels[QUEUE_LABEL] == "gpu-a"
    assert not client.CoreV1Api(api_client).list_namespaced_pod(
        namespace, label_selector="kubetune.io/training=second").items  # Kueue holds it: no pod at all

    release(release_dir, "first")
    assert wait_training(custom, namespace, "first", phase("Succeeded", "Failed"))["status"]["phase"] == "Succeeded"
    wait_training(custom, namespace, "second", phase("Running"))
    wait_training(custom, namespace, "third", message_has("waiting in queue gpu-a, position 1"))

    release(release_dir, "second")
    wait_training(custom, namespace, "third", phase("Running"))
    release(release_dir, "third")
    assert wait_training(custom, namespace, "third", phase("Succeeded", "Failed"))["status"]["phase"] == "Succeeded"
    assert kueue.alive()


def test_a_users_stop_of_an_admitted_training_frees_the_quota_and_a_start_requeues_it(
    kueue_operator: OperatorThread, kueue: Kueue, custom: client.CustomObjectsApi, api_client: client.ApiClient,
    namespace: str, cluster_queue: Callable[[str], str], make_training: Callable[..., Any], release_dir: Path,
) -> None:
    cluster_queue("1")
    batch = client.BatchV1Api(api_client)
    make_training("held")
    wait_training(custom, namespace, "held", phase("Running"))
    make_training("next")
    wait_training(custom, namespace, "next", message_has("position 1"))

    # Stop: Kueue deactivates (evicts) the Workload, suspends the Job and gives its CPU to the next one.
    custom.patch_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings", "held",
                                          {"spec": {"suspend": True}})
    stopped = wait_training(custom, namespace, "held", phase("Stopped"))
    assert "stopped" in stopped["status"]["message"]
    workload = workload_of_job(custom, batch, namespace, "held-train", lambda w: w["spec"].get("active") is False)
    assert workload["spec"]["queueName"] == "gpu-a"
    assert batch.read_namespaced_job("held-train", namespace).spec.suspend is True
    wait_training(custom, namespace, "next", phase("Running"))
    # Stopped stays stopped while `next` runs on its quota: Kueue does not start it again.
    assert batch.read_namespaced_job("held-train", namespace).spec.suspend is True
    assert custom.get_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings",
                                               "held")["status"]["phase"] == "Stopped"

    # Start: back into the queue, behind nobody, waiting for the CPU that `next` holds.
    custom.patch_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings", "held",
                                          {"spec": {"suspend": False}})
    wait_training(custom, namespace, "held", message_has("waiting in queue gpu-a, position 1"))
    release(release_dir, "next")
    wait_training(custom, namespace, "held", phase("Running"))
    release(release_dir, "held")
    assert wait_training(custom, namespace, "held", phase("Succeeded", "Failed"))["status"]["phase"] == "Succeeded"


def test_a_training_created_stopped_enters_the_queue_only_when_started(
    kueue_operator: OperatorThread, custom: client.CustomObjectsApi, api_client: client.ApiClient,
    namespace: str, cluster_queue: Callable[[str], str], make_training: Callable[..., Any], release_dir: Path,
) -> None:
    cluster_queue("1")
    make_training("later", suspend=True)
    wait_training(custom, namespace, "later", phase("Stopped"))
    batch = client.BatchV1Api(api_client)
    job = batch.read_namespaced_job("later-train", namespace)
    assert job.spec.suspend is True and QUEUE_LABEL not in (job.metadata.labels or {})  # Kueue ignores it
    custom.patch_namespaced_custom_object("kubetune.io", "v1alpha1", namespace, "trainings", "later",
                                          {"spec": {"suspend": False}})
    wait_training(custom, namespace, "later", phase("Running"))
    release(release_dir, "later")
    assert wait_training(custom, namespace, "later", phase("Succeeded", "Failed"))["status"]["phase"] == "Succeeded"


def test_a_queued_training_that_cannot_pull_its_image_fails_and_gives_its_quota_back(
    kueue_operator: OperatorThread, custom: client.CustomObjectsApi, api_client: client.ApiClient,
    namespace: str, cluster_queue: Callable[[str], str], make_training: Callable[..., Any],
    make_trainer: Callable[..., str], release_dir: Path,
) -> None:
    cluster_queue("1")
    batch = client.BatchV1Api(api_client)
    make_training("nopull", trainerRef=make_trainer(image="registry.invalid/kubetune/runtime:1"))
    failed = wait_training(custom, namespace, "nopull", phase("Failed", "Succeeded"))
    assert failed["status"]["phase"] == "Failed"
    assert "cannot pull the trainer image" in failed["status"]["message"]
    # Not a suspend of the Job (Kueue would undo it): its Workload is deactivated, Kueue suspends the Job.
    workload_of_job(custom, batch, namespace, "nopull-train", lambda w: w["spec"].get("active") is False)
    wait_for(batch.list_namespaced_job, lambda j: j["spec"].get("suspend") is True
             and not (j.get("status") or {}).get("active"), namespace, field_selector="metadata.name=nopull-train")
    # The one CPU is free again: the next Training runs.
    make_training("after")
    wait_training(custom, namespace, "after", phase("Running"))
    release(release_dir, "after")
    assert wait_training(custom, namespace, "after", phase("Succeeded", "Failed"))["status"]["phase"] == "Succeeded"
    assert wait_training(custom, namespace, "nopull", phase("Failed"))["status"]["phase"] == "Failed"

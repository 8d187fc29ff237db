"""Gang admission by the real Kueue: a Job of several pods gets quota for all of them or for none."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kube_waits import wait_for
from kubernetes import client

from kubetune.localdev.kueue import Kueue

KUEUE = ("kueue.x-k8s.io", "v1beta2")
RUN_UNTIL_RELEASED = "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.2)\n"


def group_job(name: str, pods: int, release: Path, node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    """The shape of a multi-node Training's Job: parallelism = completions = nodes, created suspended in a queue."""
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"kueue.x-k8s.io/queue-name": "gpu-a"}},
        "spec": {
            "suspend": True, "parallelism": pods, "completions": pods, "completionMode": "Indexed",
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "nodeSelector": node_selector or {}, "containers": [{
                "name": "node", "image": "kubetune/runtime:test",
                "command": [sys.executable, "-c", RUN_UNTIL_RELEASED, str(release)],
                "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "500m"}},
            }]}},
        },
    }


def test_a_multi_pod_job_is_admitted_as_a_whole_once_the_quota_fits_all_its_pods(
    kueue: Kueue, api_client: client.ApiClient, kueue_node: object, namespace: str,
    cluster_queue: Callable[[str], str], tmp_path: Path,
) -> None:
    custom, batch = client.CustomObjectsApi(api_client), client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    queue = cluster_queue("1")  # two of the three pods would fit: Kueue starts none of them
    batch.create_namespaced_job(namespace, group_job("group", 3, tmp_path / "release"))
    uid = batch.read_namespaced_job("group", namespace).metadata.uid

    def workload(predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return dict(wait_for(custom.list_namespaced_custom_object, predicate, *KUEUE, namespace, "workloads",
                             label_selector=f"kueue.x-k8s.io/job-uid={uid}"))

    def reserved(status: str) -> Callable[[dict[str, Any]], bool]:
        return lambda w: any(c["type"] == "QuotaReserved" and c["status"] == status
                             for c in (w.get("status") or {}).get("conditions") or ())

    pending = workload(reserved("False"))
    pod_sets = pending["spec"]["podSets"]
    assert [p["count"] for p in pod_sets] == [3]  # one pod set: the whole group
    message = next(c["message"] for c in pending["status"]["conditions"]
                   if c["type"] == "QuotaReserved")
    assert "insufficient" in message and "cpu" in message
    assert batch.read_namespaced_job("group", namespace).spec.suspend is True
    assert not core.list_namespaced_pod(namespace, label_selector="job-name=group").items

    # Room for all three: admitted at once, the Job unsuspended, all three pods created.
    _set_cpu_quota(custom, queue, "2")
    workload(reserved("True"))
    wait_for(batch.list_namespaced_job, lambda j: not j["spec"].get("suspend")
             and (j.get("status") or {}).get("active") == 3, namespace, field_selector="metadata.name=group")
    (tmp_path / "release").write_text("go")
    done = wait_for(batch.list_namespaced_job, lambda j: (j.get("status") or {}).get("succeeded") == 3
                    or bool((j.get("status") or {}).get("failed")), namespace, field_selector="metadata.name=group")
    assert done["status"]["succeeded"] == 3
    finished = workload(lambda w: any(c["type"] == "Finished" and c["status"] == "True"
                                      for c in (w.get("status") or {}).get("conditions") or ()))
    assert finished["metadata"]["name"]


def _set_cpu_quota(custom: client.CustomObjectsApi, queue: str, cpu: str) -> None:
    flavor = custom.get_cluster_custom_object(*KUEUE, "clusterqueues", queue)["spec"]["resourceGroups"][0][
        "flavors"][0]["name"]
    custom.patch_cluster_custom_object(*KUEUE, "clusterqueues", queue, {"spec": {"resourceGroups": [{
        "coveredResources": ["cpu", "memory"],
        "flavors": [{"name": flavor, "resources": [
            {"name": "cpu", "nominalQuota": cpu}, {"name": "memory", "nominalQuota": "64Gi"}]}],
    }]}})


def test_a_multi_node_training_waits_for_room_for_all_its_nodes_then_starts_them_together(
    kueue_operator: object, api_client: client.ApiClient, namespace: str, cluster_queue: Callable[[str], str],
    make_training: Callable[..., Any], release_dir: Path,
) -> None:
    custom, batch = client.CustomObjectsApi(api_client), client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    queue = cluster_queue("1")  # one node of one CPU would fit; the Training needs two
    # (Kueue's reason then: "insufficient quota for cpu ... request (2) > maximum capacity (1)".)
    make_training("pair", nodes=2)

    def training(predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return dict(wait_for(custom.list_namespaced_custom_object, predicate, "kubetune.io", "v1alpha1", namespace,
                             "trainings", field_selector="metadata.name=pair"))

    queued = training(lambda o: (o.get("status") or {}).get("phase") == "Queued"
                      and "insufficient quota for cpu" in (o["status"].get("message") or ""))
    assert queued["status"]["message"].startswith("waiting in queue gpu-a, position 1: ")
    job = batch.read_namespaced_job("pair-train", namespace)
    assert (job.spec.parallelism, job.spec.completion_mode, job.spec.suspend) == (2, "Indexed", True)
    workload = next(w for w in custom.list_namespaced_custom_object(*KUEUE, namespace, "workloads")["items"]
                    if w["metadata"]["labels"].get("kueue.x-k8s.io/job-uid") == job.metadata.uid)
    assert [p["count"] for p in workload["spec"]["podSets"]] == [2]
    assert not core.list_namespaced_pod(namespace, label_selector="kubetune.io/training=pair").items

    _set_cpu_quota(custom, queue, "2")
    # Both nodes run: the group was admitted as a whole.
    running = training(lambda o: (o.get("status") or {}).get("nodes", "").startswith("2/2 Running"))
    assert running["status"]["phase"] == "Running"
    wait_for(batch.list_namespaced_job, lambda j: (j.get("status") or {}).get("active") == 2, namespace,
             field_selector="metadata.name=pair-train")
    (release_dir / "pair").write_text("go")
    done = training(lambda o: (o.get("status") or {}).get("phase") in ("Succeeded", "Failed"))
    assert done["status"]["phase"] == "Succeeded", done["status"]


def test_a_group_that_does_not_become_ready_in_time_is_evicted_and_gives_its_quota_back(
    kueue: Kueue, api_client: client.ApiClient, kueue_node: object, namespace: str,
    cluster_queue: Callable[[str], str], tmp_path: Path,
) -> None:
    custom, batch = client.CustomObjectsApi(api_client), client.BatchV1Api(api_client)
    cluster_queue("2")
    # Admitted (the quota fits both pods), but no node matches: the pods never run.
    batch.create_namespaced_job(namespace, group_job("stuck", 2, tmp_path / "release",
                                                     node_selector={"kubetune.io/no-such-node": "x"}))
    uid = batch.read_namespaced_job("stuck", namespace).metadata.uid

    def workload_condition(kind: str, reason: str | None = None) -> dict[str, Any]:
        return dict(wait_for(
            custom.list_namespaced_custom_object,
            lambda w: any(c["type"] == kind and c["status"] == "True" and reason in (None, c.get("reason"))
                          for c in (w.get("status") or {}).get("conditions") or ()),
            *KUEUE, namespace, "workloads", label_selector=f"kueue.x-k8s.io/job-uid={uid}", timeout=180))

    workload_condition("Admitted")
    evicted = workload_condition("Evicted", "PodsReadyTimeout")  # waitForPodsReady's timeout passed
    assert evicted["spec"]["podSets"][0]["count"] == 2
    # Kueue suspends the Job: its pods go, and the quota is free for the next Workload.
    stopped = wait_for(batch.list_namespaced_job, lambda j: bool(j["spec"].get("suspend"))
                       and not (j.get("status") or {}).get("active"), namespace, field_selector="metadata.name=stuck")
    assert stopped["spec"]["suspend"] is True
    released = dict(wait_for(
        custom.list_namespaced_custom_object,
        lambda w: not any(c["type"] == "QuotaReserved" and c["status"] == "True"
                          for c in (w.get("status") or {}).get("conditions") or ()),
        *KUEUE, namespace, "workloads", label_selector=f"kueue.x-k8s.io/job-uid={uid}"))
    assert released["metadata"]["name"] == evicted["metadata"]["name"]

"""Jobs on the local node: the real controller-manager makes the pod, the real scheduler binds it,
the agent runs it and reports how it ended."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from node_waits import LOCAL_NODE, Obj, container_state, log_of, terminated, wait_for

from kubetune.localdev.node.agent import NodeAgent

pytestmark = pytest.mark.integration


def job(name: str, script: str, **container: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script], **container}
                    ],
                }
            },
        },
    }


def job_condition(kind: str) -> Any:
    def check(obj: Obj) -> bool:
        conditions = obj.get("status", {}).get("conditions") or []
        return any(c["type"] == kind and c["status"] == "True" for c in conditions)

    return check


def job_pod(core: client.CoreV1Api, namespace: str, name: str) -> Obj:
    return wait_for(core.list_namespaced_pod, terminated, namespace, label_selector=f"job-name={name}")


def test_plain_job_completes(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    batch = client.BatchV1Api(api_client)
    batch.create_namespaced_job(namespace, job("done", "echo done; exit 0"))

    wait_for(batch.list_namespaced_job, job_condition("Complete"), namespace, field_selector="metadata.name=done")

    pod = job_pod(core, namespace, "done")
    assert pod["spec"]["nodeName"] == LOCAL_NODE
    assert pod["status"]["phase"] == "Succeeded"
    state = container_state(pod)["terminated"]
    assert (state["exitCode"], state["reason"]) == (0, "Completed")
    assert log_of(local_node, pod, "main") == "done\n"


def test_failing_job_reports_exit_code_and_termination_message(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    batch = client.BatchV1Api(api_client)
    # The program writes its message where terminationMessagePath points; on the local node
    # that path is behind KUBETUNE_TERMINATION_MESSAGE_PATH (see docs/local-node.md).
    script = 'echo "it broke: bad input" > "$KUBETUNE_TERMINATION_MESSAGE_PATH"; exit 3'
    batch.create_namespaced_job(namespace, job("fails", script))

    failed = wait_for(
        batch.list_namespaced_job, job_condition("Failed"), namespace, field_selector="metadata.name=fails"
    )
    assert failed["status"].get("failed") == 1

    pod = job_pod(core, namespace, "fails")
    assert pod["status"]["phase"] == "Failed"
    state = container_state(pod)["terminated"]
    assert state["exitCode"] == 3
    assert state["reason"] == "Error"
    assert state["message"] == "it broke: bad input\n"


def test_fallback_to_logs_on_error(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    batch = client.BatchV1Api(api_client)
    spec = job(
        "logs", "echo first; echo 'Traceback: last words' >&2; exit 1", terminationMessagePolicy="FallbackToLogsOnError"
    )
    batch.create_namespaced_job(namespace, spec)

    pod = job_pod(core, namespace, "logs")
    state = container_state(pod)["terminated"]
    assert state["exitCode"] == 1
    assert state["message"].splitlines() == ["first", "Traceback: last words"]


def test_gpu_job_is_scheduled_on_the_fake_gpus(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    batch = client.BatchV1Api(api_client)
    limits = {"resources": {"limits": {"nvidia.com/gpu": "2"}}}
    batch.create_namespaced_job(namespace, job("gpu", "exit 0", **limits))

    wait_for(batch.list_namespaced_job, job_condition("Complete"), namespace, field_selector="metadata.name=gpu")
    assert job_pod(core, namespace, "gpu")["spec"]["nodeName"] == LOCAL_NODE

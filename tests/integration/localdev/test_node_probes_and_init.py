"""Init containers run first and in order; a failing liveness probe restarts the container;
a readiness probe that stops passing makes the pod not Ready."""

from __future__ import annotations

import pytest
from kubernetes import client
from node_waits import Obj, wait_for

from kubetune.localdev.node.agent import NodeAgent

pytestmark = pytest.mark.integration


def condition(pod: Obj, kind: str) -> str | None:
    for item in pod.get("status", {}).get("conditions") or []:
        if item["type"] == kind:
            return str(item["status"])
    return None


def test_init_containers_run_in_order_before_the_main_container(
    core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    def step(name: str, text: str) -> Obj:
        script = f'echo {text} >> "$KUBETUNE_MOUNT_SHARED/order"'
        return {"name": name, "image": "busybox", "command": ["sh", "-c", script], "volumeMounts": [mount]}

    mount = {"name": "shared", "mountPath": "/shared"}
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ordered"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "shared", "emptyDir": {}}],
            "initContainers": [step("first", "one"), step("second", "two")],
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": [
                        "sh",
                        "-c",
                        'cat "$KUBETUNE_MOUNT_SHARED/order" > "$KUBETUNE_TERMINATION_MESSAGE_PATH"',
                    ],
                    "volumeMounts": [mount],
                }
            ],
        },
    }
    core.create_namespaced_pod(namespace, body)

    pod = wait_for(
        core.list_namespaced_pod,
        lambda p: p["status"].get("phase") == "Succeeded",
        namespace,
        field_selector="metadata.name=ordered",
    )
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"] == "one\ntwo\n"
    assert [s["state"]["terminated"]["exitCode"] for s in pod["status"]["initContainerStatuses"]] == [0, 0]
    assert condition(pod, "Initialized") == "True"


def test_failing_liveness_probe_restarts_and_readiness_flips(
    core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    # The first run is alive for 2 s, then its marker goes: the liveness probe fails and the
    # container is killed and restarted (restartPolicy Always). The second run marks itself
    # alive and ready, so the pod becomes Ready with one restart. The probes' $(VAR) is expanded
    # from the container's env, as the kubelet does for exec probes.
    script = (
        'cd "$KUBETUNE_MOUNT_STATE"; '
        "if [ -e first-run-done ]; then touch ready; exec sleep 1000; fi; "
        "touch alive; sleep 2; rm alive; touch first-run-done; exec sleep 1000"
    )
    probe_dir = "$(KUBETUNE_MOUNT_STATE)"
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unhealthy"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "state", "emptyDir": {}}],
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", script],
                    "volumeMounts": [{"name": "state", "mountPath": "/state"}],
                    "livenessProbe": {
                        "exec": {"command": ["sh", "-c", f"test -e {probe_dir}/alive -o -e {probe_dir}/ready"]},
                        "initialDelaySeconds": 1,
                        "periodSeconds": 1,
                        "failureThreshold": 2,
                    },
                    "readinessProbe": {
                        "exec": {"command": ["sh", "-c", f"test -e {probe_dir}/ready"]},
                        "periodSeconds": 1,
                    },
                }
            ],
        },
    }
    core.create_namespaced_pod(namespace, body)

    pod = wait_for(
        core.list_namespaced_pod,
        lambda p: condition(p, "Ready") == "True",
        namespace,
        field_selector="metadata.name=unhealthy",
    )
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 143  # stopped by SIGTERM
    assert "running" in status["state"]

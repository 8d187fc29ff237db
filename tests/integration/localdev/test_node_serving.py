"""A Deployment whose server passes an httpGet readiness probe becomes Available, and its
EndpointSlice lists the pod's own address, which answers HTTP."""

from __future__ import annotations

import urllib.request

import pytest
from kubernetes import client
from node_waits import LOCAL_NODE, Obj, wait_for

from kubetune.localdev.node.agent import NodeAgent

pytestmark = pytest.mark.integration

LABELS = {"app": "web"}


def deployment() -> Obj:
    container = {
        "name": "server",
        "image": "python:3.11-slim",
        # Each pod has its own address; the server binds it, so replicas never collide on the port.
        "command": ["python", "-m", "http.server", "8080", "--bind", "$(MY_POD_IP)"],
        "env": [{"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2, "failureThreshold": 5},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]},
            },
        },
    }


def available(obj: Obj) -> bool:
    conditions = obj.get("status", {}).get("conditions") or []
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def test_deployment_becomes_available_and_its_endpoint_slice_lists_the_pod(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str, local_node: NodeAgent
) -> None:
    if local_node.network_mode != "netns":
        pytest.fail("EndpointSlices reject loopback addresses: this test needs the netns pod network (root)")
    apps = client.AppsV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    core.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": LABELS, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    )
    apps.create_namespaced_deployment(namespace, deployment())

    wait_for(apps.list_namespaced_deployment, available, namespace, field_selector="metadata.name=web")

    pod = wait_for(
        core.list_namespaced_pod, lambda p: bool(p["status"].get("podIP")), namespace, label_selector="app=web"
    )
    pod_ip = pod["status"]["podIP"]
    assert pod["spec"]["nodeName"] == LOCAL_NODE
    assert pod["status"]["podIPs"] == [{"ip": pod_ip}]

    def lists_ready_pod(slice_: Obj) -> bool:
        return any(
            pod_ip in endpoint["addresses"] and endpoint.get("conditions", {}).get("ready")
            for endpoint in slice_.get("endpoints") or []
        )

    endpoint_slice = wait_for(
        discovery.list_namespaced_endpoint_slice,
        lists_ready_pod,
        namespace,
        label_selector="kubernetes.io/service-name=web",
    )
    assert endpoint_slice["ports"][0]["port"] == 8080

    with urllib.request.urlopen(f"http://{pod_ip}:8080/", timeout=10) as response:
        assert response.status == 200

"""The worker node is a real kubelet on containerd, and pods on it run in real containers:
their own network namespace and address, cluster DNS, the API server through the `kubernetes`
Service, `kubectl logs` and `exec` through the kubelet, and volumes from the default class."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kube_waits import wait_for
from kubernetes import client
from kubernetes.stream import stream

from kubetune.cluster.addons import STORAGE_CLASS
from kubetune.cluster.images import REGISTRY, BinaryImage, oci_archive
from kubetune.cluster.node import TOOLBOX_BINARY

TOOLBOX_PREFIX = f"{REGISTRY}/toolbox:"


def _toolbox_image(api: client.ApiClient, node: str) -> str:
    images = client.CoreV1Api(api).read_node(node).status.images or []
    names = [n for image in images for n in image.names or [] if n.startswith(TOOLBOX_PREFIX)]
    assert names, f"no {TOOLBOX_PREFIX}* image on {node}"
    return str(names[0])


def _pod(name: str, image: str, script: str, mounts: list[client.V1VolumeMount] | None = None,
         **spec: Any) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[client.V1Container(
                name="main", image=image, image_pull_policy="Never", command=["/busybox", "sh", "-c", script],
                volume_mounts=mounts,
                security_context=client.V1SecurityContext(run_as_non_root=True, run_as_user=65532,
                                                          allow_privilege_escalation=False))],
            **spec,
        ),
    )


def _finished(obj: dict[str, Any]) -> bool:
    return obj.get("status", {}).get("phase") in ("Succeeded", "Failed")


def test_node_is_ready_on_containerd_with_an_address_the_api_server_can_reach(
        api: client.ApiClient, cluster_info: dict[str, Any]) -> None:
    node = client.CoreV1Api(api).read_node(cluster_info["node"])
    ready = {c.type: c.status for c in node.status.conditions}
    assert ready["Ready"] == "True"
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    assert node.status.node_info.kubelet_version == "v1.36.3"
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses["InternalIP"] == cluster_info["nodeAddress"]
    assert not ipaddress.ip_address(addresses["InternalIP"]).is_loopback


def test_pod_runs_in_a_container_resolves_cluster_dns_and_its_logs_are_readable(
        api: client.ApiClient, cluster_info: dict[str, Any], namespace: str) -> None:
    core = client.CoreV1Api(api)
    image = _toolbox_image(api, cluster_info["node"])
    script = ("echo hello-from-a-container; id -u; "
              "nslookup kubernetes.default.svc.cluster.local; "
              # the API server, through the kubernetes Service, kube-proxy and the node's relay
              "echo | nc -w 5 kubernetes.default.svc.cluster.local 443 && echo api-server-reachable")
    core.create_namespaced_pod(namespace, _pod("probe", image, script))
    pod = wait_for(core.list_namespaced_pod, _finished, namespace, field_selector="metadata.name=probe")
    logs = core.read_namespaced_pod_log("probe", namespace)  # API server -> kubelet on the node
    assert pod["status"]["phase"] == "Succeeded", logs
    assert "hello-from-a-container" in logs and "\n65532\n" in logs
    assert "10.0.0.1" in logs  # kubernetes.default's ClusterIP, answered by CoreDNS
    assert "api-server-reachable" in logs
    pod_ip = ipaddress.ip_address(pod["status"]["podIP"])
    assert pod_ip in ipaddress.ip_network("10.245.0.0/16")  # its own network namespace, on the node's bridge
    statuses = pod["status"]["containerStatuses"]
    assert statuses[0]["containerID"].startswith("containerd://")


def test_exec_reaches_a_running_container(api: client.ApiClient, cluster_info: dict[str, Any],
                                          namespace: str) -> None:
    core = client.CoreV1Api(api)
    image = _toolbox_image(api, cluster_info["node"])
    core.create_namespaced_pod(namespace, _pod("sleeper", image, "sleep 600", termination_grace_period_seconds=0))
    wait_for(core.list_namespaced_pod, lambda o: o.get("status", {}).get("phase") == "Running", namespace,
             field_selector="metadata.name=sleeper")
    out = stream(core.connect_get_namespaced_pod_exec, "sleeper", namespace,
                 command=["/busybox", "cat", "/proc/1/cmdline"], stderr=True, stdout=True, stdin=False, tty=False)
    assert "sleep" in out


def test_claim_binds_to_a_local_volume_and_a_pod_writes_to_it(
        api: client.ApiClient, cluster_info: dict[str, Any], namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(namespace, client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="data"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}))))
    claim = wait_for(core.list_namespaced_persistent_volume_claim,
                     lambda o: o.get("status", {}).get("phase") == "Bound", namespace,
                     field_selector="metadata.name=data")
    assert claim["spec"]["storageClassName"] == STORAGE_CLASS
    image = _toolbox_image(api, cluster_info["node"])
    core.create_namespaced_pod(namespace, _pod(
        "writer", image, f"echo written-by-{namespace} > /data/proof",
        mounts=[client.V1VolumeMount(name="data", mount_path="/data")],
        volumes=[client.V1Volume(name="data", persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
            claim_name="data"))]))
    pod = wait_for(core.list_namespaced_pod, _finished, namespace, field_selector="metadata.name=writer")
    assert pod["status"]["phase"] == "Succeeded", core.read_namespaced_pod_log("writer", namespace)
    volume = core.read_persistent_volume(claim["spec"]["volumeName"])
    assert (Path(volume.spec.host_path.path) / "proof").read_text() == f"written-by-{namespace}\n"



def test_an_image_streamed_into_the_running_node_runs_a_pod(
        api: client.ApiClient, cluster_info: dict[str, Any], namespace: str) -> None:
    """`docker save ... | python -m kubetune.cluster load` (hack/cluster/e2e.sh): an archive read from
    stdin lands in the node's containerd, with no file on disk, and a pod runs from it."""
    reference, archive = oci_archive(BinaryImage(f"streamed-{namespace}", TOOLBOX_BINARY, ["/busybox"]))
    state_dir = os.environ["KUBETUNE_CLUSTER_STATE"]
    loaded = subprocess.run([sys.executable, "-m", "kubetune.cluster", "load", "--state-dir", state_dir],
                            input=archive, capture_output=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr.decode()
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod("streamed", reference, "echo ran-from-the-streamed-image"))
    pod = wait_for(core.list_namespaced_pod, _finished, namespace, field_selector="metadata.name=streamed")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    assert core.read_namespaced_pod_log("streamed", namespace).strip() == "ran-from-the-streamed-image"


def test_the_resource_metrics_api_reports_what_a_busy_container_uses(
        api: client.ApiClient, cluster_info: dict[str, Any], namespace: str) -> None:
    """metrics.k8s.io is an aggregated API: the API server proxies it, as the front proxy, to
    metrics-server in a pod, which reads the kubelet's cgroup figures. A busy loop must show up as
    most of a core, an idle node as something, so the figures are measured, not made up."""
    core = client.CoreV1Api(api)
    image = _toolbox_image(api, cluster_info["node"])
    pod = _pod("busy", image, "while :; do :; done", termination_grace_period_seconds=0)
    pod.spec.restart_policy = "Always"
    core.create_namespaced_pod(namespace, pod)
    wait_for(core.list_namespaced_pod, lambda o: o.get("status", {}).get("phase") == "Running", namespace,
             field_selector="metadata.name=busy")
    metrics = client.CustomObjectsApi(api)

    def usage(obj: dict[str, Any]) -> int:
        return sum(_millicores(c["usage"]["cpu"]) for c in obj.get("containers") or [])

    # metrics.k8s.io serves get and list, not watch: ask until metrics-server has scraped the pod twice
    # (its CPU figure is a rate between two scrapes; --metric-resolution is 15 s).
    deadline = time.monotonic() + 120
    busy: dict[str, Any] = {}
    while not busy and time.monotonic() < deadline:
        try:
            busy = metrics.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", namespace, "pods", "busy")
        except client.ApiException as exc:
            assert exc.status == 404, exc  # not scraped yet; any other answer is a broken API
            time.sleep(2)
    assert busy, "metrics-server reported nothing for the pod within 120 s"
    # A spinning shell takes a core when the machine has one free, and well over a tenth under any load.
    assert usage(busy) >= 100, busy
    nodes = metrics.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")["items"]
    node = next(n for n in nodes if n["metadata"]["name"] == cluster_info["node"])
    assert _millicores(node["usage"]["cpu"]) >= usage(busy) * 0.5, node
    assert node["usage"]["memory"].endswith("Ki")


def _millicores(quantity: str) -> int:
    """A CPU quantity as metrics-server writes it ("123456789n", "250m", "2") in millicores."""
    units = {"n": 1e-6, "u": 1e-3, "m": 1.0}
    if quantity[-1] in units:
        return int(float(quantity[:-1]) * units[quantity[-1]])
    return int(float(quantity) * 1000)

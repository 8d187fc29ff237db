"""The Node object: what the scheduler sees of this machine."""

from __future__ import annotations

import logging
import os
import platform
from typing import Any

from kubernetes.client.rest import ApiException

from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.node.kube import STRATEGIC_PATCH, Kube, as_dict

log = logging.getLogger(__name__)

LOCAL_NODE_LABEL = "kubetune.io/local-node"
GPU_RESOURCE = "nvidia.com/gpu"
HOST_IP = "127.0.0.1"


def host_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def node_labels(config: NodeConfig) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": _arch(),
        LOCAL_NODE_LABEL: "true",
    }
    if config.gpus > 0:
        labels["nvidia.com/gpu.present"] = "true"
        labels["nvidia.com/gpu.product"] = config.gpu_product
        labels["nvidia.com/gpu.count"] = str(config.gpus)
    labels.update(config.labels)
    return labels


def node_capacity(config: NodeConfig) -> dict[str, str]:
    memory = config.memory_bytes if config.memory_bytes is not None else host_memory_bytes()
    capacity = {
        "cpu": str(config.cpu),
        "memory": f"{memory // 1024}Ki",
        "pods": str(config.max_pods),
        "ephemeral-storage": "100Gi",
    }
    if config.gpus > 0:
        capacity[GPU_RESOURCE] = str(config.gpus)
    return capacity


def node_manifest(config: NodeConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": config.name, "labels": node_labels(config)},
        "spec": {},
    }


def node_static_status(config: NodeConfig, kubelet_version: str, kubelet_port: int = 0) -> dict[str, Any]:
    """Everything in NodeStatus but the conditions (heartbeat writes those).

    kubelet_port: where the node's kubelet API (container logs) listens on HOST_IP; 0 for none.
    """
    capacity = node_capacity(config)
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": [
            {"type": "InternalIP", "address": HOST_IP},
            {"type": "Hostname", "address": config.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": platform.release(),
            "osImage": "kubetune local node (host processes)",
            "containerRuntimeVersion": "kubetune://host-process",
            "kubeletVersion": kubelet_version,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": _arch(),
        },
    }


def register(kube: Kube, config: NodeConfig, kubelet_port: int = 0) -> dict[str, Any]:
    """Create the Node, or bring an existing one's labels up to date; then write its status."""
    manifest = node_manifest(config)
    try:
        kube.core.create_node(manifest, _preload_content=False)
        log.info("registered node %s", config.name)
    except ApiException as error:
        if error.status != 409:
            raise
        kube.core.patch_node(
            config.name,
            {"metadata": {"labels": manifest["metadata"]["labels"]}},
            _content_type=STRATEGIC_PATCH,
            _preload_content=False,
        )
    version = kube.version.get_code().git_version
    response = kube.core.patch_node_status(
        config.name,
        {"status": node_static_status(config, version, kubelet_port)},
        _content_type=STRATEGIC_PATCH,
        _preload_content=False,
    )
    return as_dict(response)

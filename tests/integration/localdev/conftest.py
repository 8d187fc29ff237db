"""The local node agent on the real control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from node_scheduling import schedulable_during
from node_waits import LOCAL_NODE

from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig


@pytest.fixture(scope="session")
def local_node(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeAgent]:
    """A Ready node named local-node with 2 fake GPUs; its pods run as host processes."""
    config = NodeConfig(
        kubeconfig=control_plane.kubeconfig,
        name=LOCAL_NODE,
        gpus=2,
        state_dir=tmp_path_factory.mktemp("local-node"),
        # Short backoff keeps restart tests quick; the kubelet's is 10 s.
        restart_backoff_seconds=1.0,
        # The kubelet API, so that pods/log (`kubectl logs`) reads its pods' output (test_node_logs.py).
        kubelet_tls=control_plane.kubelet_tls(LOCAL_NODE),
    )
    with NodeAgent(config) as agent:
        yield agent


@pytest.fixture(autouse=True, scope="module")
def _local_node_open_here(local_node: NodeAgent, api_client: client.ApiClient) -> Iterator[None]:
    """This folder's node takes pods only during this folder's modules (see node_scheduling)."""
    with schedulable_during(api_client, LOCAL_NODE):
        yield


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)

"""The real local control plane, shared by every integration test in the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.crds import install_crds


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd, kube-apiserver, kube-controller-manager and kube-scheduler, with kubetune's CRDs."""
    with ControlPlane.start() as cp:
        with client.ApiClient(client_configuration(cp.kubeconfig)) as api:
            install_crds(api)
        yield cp


@pytest.fixture(scope="session")
def api_client(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """An admin client for the local control plane."""
    with client.ApiClient(client_configuration(control_plane.kubeconfig)) as api:
        yield api


@pytest.fixture
def namespace(api_client: client.ApiClient) -> Iterator[str]:
    """A fresh namespace whose default ServiceAccount exists (pods need it)."""
    # Imported here: tests load this file as a plugin too (tests.integration.conftest), with no sys.path entry.
    from kube_waits import create_namespace

    name = create_namespace(api_client, "t")
    yield name
    client.CoreV1Api(api_client).delete_namespace(name, propagation_policy="Background")

"""`helm install` with default values on an empty cluster, as a new user runs it: a control plane of
its own (no kubetune CRDs) and a cold client cache. The CRDs come first, the default Trainers after
them; `helm upgrade` changes the Trainers, `helm uninstall` keeps the CRDs, and installing again
works."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubetune.chart.helm import CHART_DIR, helm_path, set_args
from kubetune.crd import GROUP, VERSION
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane

pytestmark = pytest.mark.integration

NAMESPACE = "kubetune-system"
CRDS = {f"{plural}.{GROUP}" for plural in ("trainers", "trainings", "inferenceservices", "datasets")}


@pytest.fixture(scope="module")
def empty_cluster() -> Iterator[ControlPlane]:
    """Not the session's control plane: that one has the CRDs installed already."""
    with ControlPlane.start() as cp:
        yield cp


@pytest.fixture(scope="module")
def api(empty_cluster: ControlPlane) -> Iterator[client.ApiClient]:
    with client.ApiClient(client_configuration(empty_cluster.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def helm(empty_cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # A new user's machine: no discovery cache (~/.kube/cache) and no Helm cache or config.
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / ".kube" / "cache"),
           "HELM_CACHE_HOME": str(home / "helm-cache"), "HELM_CONFIG_HOME": str(home / "helm-config"),
           "HELM_DATA_HOME": str(home / "helm-data")}
    binary = helm_path()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(binary), "--kubeconfig", str(empty_cluster.kubeconfig), *args],
                              capture_output=True, text=True, timeout=300, env=env)

    return run


def trainers(api: client.ApiClient) -> dict[str, dict[str, Any]]:
    listed = client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, "trainers")
    return {t["metadata"]["name"]: t for t in listed["items"]}


def crd_names(api: client.ApiClient) -> set[str]:
    return {c.metadata.name for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items}


def test_install_upgrade_uninstall_and_install_again_with_default_values(helm: Any, api: client.ApiClient) -> None:
    assert not crd_names(api) & CRDS  # really empty

    installed = helm("install", "kubetune", str(CHART_DIR), "-n", NAMESPACE, "--create-namespace")
    assert installed.returncode == 0, installed.stderr
    assert crd_names(api) >= CRDS
    found = trainers(api)
    assert set(found) == {"lora", "qlora", "full"}
    assert found["lora"]["metadata"]["labels"]["app.kubernetes.io/instance"] == "kubetune"
    assert found["lora"]["spec"]["resources"]["gpus"] == 1

    upgraded = helm("upgrade", "kubetune", str(CHART_DIR), "-n", NAMESPACE,
                    *set_args({"trainers.lora.resources.gpus": "2"}))
    assert upgraded.returncode == 0, upgraded.stderr
    assert trainers(api)["lora"]["spec"]["resources"]["gpus"] == 2

    uninstalled = helm("uninstall", "kubetune", "-n", NAMESPACE)
    assert uninstalled.returncode == 0, uninstalled.stderr
    assert crd_names(api) >= CRDS  # crds.keep: Trainings and InferenceServices survive an uninstall
    deployments = client.AppsV1Api(api).list_namespaced_deployment(NAMESPACE).items
    assert deployments == []

    # The kept CRDs still carry the release's annotations, so installing the same release again adopts them.
    again = helm("install", "kubetune", str(CHART_DIR), "-n", NAMESPACE)
    assert again.returncode == 0, again.stderr
    assert set(trainers(api)) == {"lora", "qlora", "full"}
    helm("uninstall", "kubetune", "-n", NAMESPACE)

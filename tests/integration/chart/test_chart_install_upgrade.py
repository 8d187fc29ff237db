"""`helm install` and `helm upgrade` on the real control plane: the generated auth Secret survives
upgrades (read back with `lookup`), and an explicit password replaces only the password."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from kubetune.chart.helm import CHART_DIR, helm_path, set_args
from kubetune.localdev.controlplane import ControlPlane

pytestmark = pytest.mark.integration

# The session's CRDs are not Helm's to own, and the default Trainers and the project roles are
# cluster-scoped names other tests use: this release installs none of them.
BASE = {"crds.enabled": "false", "trainers.enabled": "false", "projectRoles.enabled": "false"}


def helm(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_path()), "--kubeconfig", str(cp.kubeconfig), *args],
                          capture_output=True, text=True, timeout=180)


def auth_data(api_client: client.ApiClient, namespace: str, name: str) -> dict[str, bytes]:
    secret = client.CoreV1Api(api_client).read_namespaced_secret(name, namespace)
    return {key: base64.b64decode(value) for key, value in secret.data.items()}


def test_generated_secret_is_kept_across_upgrades(control_plane: ControlPlane, api_client: client.ApiClient,
                                                  namespace: str) -> None:
    release = f"r{uuid.uuid4().hex[:8]}"
    secret_name = f"{release}-kubetune-auth"
    installed = helm(control_plane, "install", release, str(CHART_DIR), "-n", namespace, *set_args(BASE))
    try:
        assert installed.returncode == 0, installed.stderr
        first = auth_data(api_client, namespace, secret_name)
        assert len(first["jwt-secret"]) == 64 and len(first["admin-password"]) == 24

        upgraded = helm(control_plane, "upgrade", release, str(CHART_DIR), "-n", namespace,
                        *set_args({**BASE, "api.replicas": "2"}))
        assert upgraded.returncode == 0, upgraded.stderr
        assert auth_data(api_client, namespace, secret_name) == first
        deploy = client.AppsV1Api(api_client).read_namespaced_deployment(f"{release}-kubetune-api", namespace)
        assert deploy.spec.replicas == 2

        chosen = helm(control_plane, "upgrade", release, str(CHART_DIR), "-n", namespace,
                      *set_args({**BASE, "auth.adminPassword": "a-chosen-password"}))
        assert chosen.returncode == 0, chosen.stderr
        after = auth_data(api_client, namespace, secret_name)
        assert after["admin-password"] == b"a-chosen-password"
        assert after["jwt-secret"] == first["jwt-secret"]
    finally:
        helm(control_plane, "uninstall", release, "-n", namespace)
    # Cluster-scoped objects go with the release; the PVC is kept on purpose (artifacts).
    rbac = client.RbacAuthorizationV1Api(api_client)
    assert not [r for r in rbac.list_cluster_role().items if r.metadata.name.startswith(release)]
    claims = client.CoreV1Api(api_client).list_namespaced_persistent_volume_claim(namespace).items
    assert [c.metadata.name for c in claims] == [f"{release}-kubetune-artifacts"]


def test_install_refuses_contradictory_values_before_touching_the_cluster(
        control_plane: ControlPlane, api_client: client.ApiClient, namespace: str) -> None:
    done = helm(control_plane, "install", "contradictory", str(CHART_DIR), "-n", namespace,
                *set_args({**BASE, "operator.replicas": "2", "operator.leaderElection.enabled": "false"}))
    assert done.returncode != 0 and "leaderElection" in done.stderr
    assert client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items == []


def test_schema_refuses_a_typo_at_install(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("operator:\n  replica: 2\n")
    done = helm(control_plane, "install", "typo", str(CHART_DIR), "-n", namespace, "-f", str(values),
                *set_args(BASE))
    assert done.returncode != 0
    assert "additional properties 'replica' not allowed" in done.stderr

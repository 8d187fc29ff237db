"""The rendered chart and the kustomize overlays on the real kube-apiserver.

A server-side dry run sends every object through the API server's decoding, defaulting,
schema and CEL validation and admission, without keeping anything; the RBAC test
applies the operator's RBAC for real and acts as the operator's ServiceAccount.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.chart.helm import REPO_ROOT, helm_path, template
from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.builders.rbac import build_role, build_role_binding
from kubetune.operator.owner import Owner

pytestmark = pytest.mark.integration

OVERLAYS = REPO_ROOT / "manifests" / "overlays"


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_path()


def kubectl(cp: ControlPlane, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cp.bin_dir / "kubectl"), "--kubeconfig", str(cp.kubeconfig), *args],
                          input=stdin, capture_output=True, text=True, timeout=120)


def ensure_namespace(api_client: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except ApiException as exc:
        if exc.status != 409:
            raise


def dry_run(cp: ControlPlane, manifests: str) -> list[str]:
    """Server-side dry run of every object; returns kubectl's `... created (server dry run)` lines."""
    done = kubectl(cp, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-",
                   stdin=manifests)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


VALUE_SETS = {
    "defaults": {},
    "ha-ingress-netpol": {"operator.replicas": "2", "api.replicas": "2", "api.ingress.enabled": "true",
                          "api.ingress.tls.enabled": "true", "networkPolicy.enabled": "true",
                          "operator.watchNamespaces[0]": "team-a", "crds.keep": "false"},
    "s3-existing-secret": {"storage.type": "s3", "storage.s3.bucket": "models", "storage.s3.accessKeyId": "a",
                           "storage.s3.secretAccessKey": "b", "auth.existingSecret": "corp-auth"},
    "no-crds-no-api": {"crds.enabled": "false", "api.enabled": "false", "trainers.enabled": "false"},
}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_chart_is_valid_on_the_api_server(control_plane: ControlPlane, namespace: str, helm: Path,
                                                   name: str) -> None:
    rendered = template("kt", namespace, VALUE_SETS[name], helm=helm)
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    lines = dry_run(control_plane, rendered)
    assert len(lines) == len(objects)
    assert all("(server dry run)" in line for line in lines)


def test_an_invalid_object_is_caught_by_the_dry_run(control_plane: ControlPlane, namespace: str,
                                                    helm: Path) -> None:
    """The dry run validates for real: a Trainer the CRD schema refuses fails it."""
    rendered = template("kt", namespace, {}, helm=helm)
    broken = rendered.replace("methods: [lora]", "methods: [lora, dreambooth]")
    assert broken != rendered
    done = kubectl(control_plane, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=broken)
    assert done.returncode != 0
    assert "dreambooth" in done.stderr


@pytest.mark.parametrize("overlay", ["dev", "gpu"])
def test_kustomize_overlay_is_valid_on_the_api_server(control_plane: ControlPlane, api_client: client.ApiClient,
                                                      overlay: str) -> None:
    ensure_namespace(api_client, "kubetune-system")  # a dry-run Namespace does not hold dry-run objects
    done = kubectl(control_plane, "apply", "-k", str(OVERLAYS / overlay), "--server-side", "--force-conflicts",
                   "--dry-run=server")
    assert done.returncode == 0, done.stderr
    assert "deployment.apps/kubetune-operator serverside-applied (server dry run)" in done.stdout
    assert "trainer.kubetune.io/lora serverside-applied (server dry run)" in done.stdout


@pytest.fixture
def operator_rbac(control_plane: ControlPlane, namespace: str, helm: Path) -> Iterator[str]:
    """The chart's operator ServiceAccount and RBAC, applied for real; yields the SA's user name."""
    release = f"r{uuid.uuid4().hex[:8]}"
    rendered = template(release, namespace, {}, helm=helm)
    wanted = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in
              ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
              and d["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"]
    text = yaml.safe_dump_all(wanted)
    applied = kubectl(control_plane, "apply", "-f", "-", stdin=text)
    assert applied.returncode == 0, applied.stderr
    yield f"system:serviceaccount:{namespace}:{release}-kubetune-operator"
    kubectl(control_plane, "delete", "--ignore-not-found", "-f", "-", stdin=text)


def test_operator_service_account_can_grant_the_per_training_role(control_plane: ControlPlane,
                                                                  namespace: str, operator_rbac: str) -> None:
    owner = Owner(api_version="kubetune.io/v1alpha1", kind="Training", name="run-1", uid=str(uuid.uuid4()),
                  namespace=namespace)
    role, binding = build_role(owner), build_role_binding(owner)
    for obj in (role, binding):
        obj["metadata"].pop("ownerReferences", None)  # the owner does not exist in this test
    as_operator = ("--as", operator_rbac)
    # For real (the binding's escalation check reads the Role), in the test's own namespace.
    for obj in (role, binding):
        done = kubectl(control_plane, "create", *as_operator, "-f", "-", stdin=yaml.safe_dump(obj))
        assert done.returncode == 0, done.stderr

    # Least privilege: no Secrets, and no Role wider than what the operator holds itself.
    cannot = kubectl(control_plane, "auth", "can-i", "get", "secrets", "-n", namespace, *as_operator)
    assert cannot.stdout.strip() == "no"
    wider = {**role, "metadata": {**role["metadata"], "name": "wider"},
             "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    refused = kubectl(control_plane, "create", "--dry-run=server", *as_operator, "-f", "-",
                      stdin=yaml.safe_dump(wider))
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr

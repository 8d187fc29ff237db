"""The operator runs under exactly the chart's RBAC: its ServiceAccount's token, nothing more.

The chart's operator ServiceAccount, ClusterRole and Role are applied for real; the operator
runs in-process with a kubeconfig holding that ServiceAccount's token and takes a Training
from creation to a Job with its least-privilege children and a status. A missing verb
would leave the Job uncreated or the status unwritten.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, watch

from kubetune.chart.helm import helm_path, template
from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration
GROUP, VERSION = "kubetune.io", "v1alpha1"


def kubectl(cp: ControlPlane, *args: str, stdin: str) -> None:
    done = subprocess.run([str(cp.bin_dir / "kubectl"), "--kubeconfig", str(cp.kubeconfig), *args],
                          input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def wait_for(list_call: Callable[..., Any], predicate: Callable[[dict[str, Any]], bool], *args: Any,
             timeout: int = 90, **kwargs: Any) -> dict[str, Any]:
    """The first object a watch (starting with the current list) shows that satisfies predicate."""
    stream = watch.Watch()
    for event in stream.stream(list_call, *args, timeout_seconds=timeout, **kwargs):
        obj = event["object"]
        body = obj if isinstance(obj, dict) else client.ApiClient().sanitize_for_serialization(obj)
        if predicate(body):
            stream.stop()
            return body
    raise TimeoutError(f"nothing matched within {timeout}s")


@pytest.fixture
def operator_kubeconfig(control_plane: ControlPlane, api_client: client.ApiClient, namespace: str,
                        tmp_path: Path) -> Iterator[Path]:
    """The chart's operator RBAC applied for real, and a kubeconfig with its ServiceAccount's token."""
    release = f"r{uuid.uuid4().hex[:8]}"
    rendered = template(release, namespace, {"operator.watchNamespaces[0]": namespace}, helm=helm_path())
    objects = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in
               ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
               and d["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"]
    text = yaml.safe_dump_all(objects)
    kubectl(control_plane, "apply", "-f", "-", stdin=text)
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                               expiration_seconds=3600))
    token = client.CoreV1Api(api_client).create_namespaced_service_account_token(
        f"{release}-kubetune-operator", namespace, request).status.token
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    admin["users"] = [{"name": "user", "user": {"token": token}}]
    path = tmp_path / "operator.kubeconfig"
    path.write_text(yaml.safe_dump(admin))
    yield path
    kubectl(control_plane, "delete", "--ignore-not-found", "-f", "-", stdin=text)


def test_operator_reconciles_a_training_with_only_the_charts_rbac(
        api_client: client.ApiClient, namespace: str, operator_kubeconfig: Path, tmp_path: Path) -> None:
    custom = client.CustomObjectsApi(api_client)
    trainer = f"rbac-{uuid.uuid4().hex[:8]}"
    custom.create_cluster_custom_object(GROUP, VERSION, "trainers", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Trainer", "metadata": {"name": trainer},
        "spec": {"image": "kubetune/runtime:test", "tasks": ["causal-lm"], "methods": ["lora"],
                 "resources": {"gpus": 0}},
    })
    settings = Settings(kubeconfig=str(operator_kubeconfig), namespaces=[namespace], pod_namespace=namespace,
                        artifact_pvc=None, artifact_mount_path=str(tmp_path), leader_election=False,
                        metrics_port=0, health_port=0, log_format="text", workers=4)
    try:
        with OperatorThread(settings):
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainings", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Training", "metadata": {"name": "run"},
                "spec": {"trainerRef": trainer, "task": "causal-lm", "method": "lora",
                         "baseModel": "hf://tiny/model",
                         "dataset": {"uri": f"file://{tmp_path}/{namespace}/data/chat.jsonl",
                                     "format": "openai_chat_jsonl"}},
            })
            batch, core, rbac = client.BatchV1Api(api_client), client.CoreV1Api(api_client), \
                client.RbacAuthorizationV1Api(api_client)
            job = wait_for(batch.list_namespaced_job, lambda o: True, namespace,
                           label_selector="kubetune.io/training=run")
            training = wait_for(custom.list_namespaced_custom_object, lambda o: bool(
                (o.get("status") or {}).get("jobName")), GROUP, VERSION, namespace, "trainings",
                field_selector="metadata.name=run")
            trainer_status = wait_for(custom.list_cluster_custom_object, lambda o: bool(
                (o.get("status") or {}).get("conditions")), GROUP, VERSION, "trainers",
                field_selector=f"metadata.name={trainer}")
    finally:
        custom.delete_cluster_custom_object(GROUP, VERSION, "trainers", trainer)

    assert training["status"]["jobName"] == job["metadata"]["name"]
    assert training["status"]["phase"] in ("Pending", "Queued", "Running")
    assert trainer_status["status"]["conditions"][0]["type"]
    account = job["spec"]["template"]["spec"]["serviceAccountName"]
    role = rbac.read_namespaced_role(account, namespace)
    assert role.rules[0].resource_names == ["run"]
    assert rbac.read_namespaced_role_binding(account, namespace).role_ref.name == account
    assert core.read_namespaced_service_account(account, namespace).metadata.owner_references

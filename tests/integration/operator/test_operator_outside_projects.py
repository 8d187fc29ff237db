"""An operator that works only in projects (the chart's setting with the admission policy on) says so.

A Training or InferenceService in a namespace without the kubetune.io/project label waits Pending with
reason NotAProject and a message saying to label the namespace, and nothing is created for it; once the
namespace is labelled, both go on: the Training runs to Succeeded, the server's Deployment is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import operator_settings
from kubernetes import client
from operator_waits import Obj, Resources, condition

from kubetune.crd import labels as lbl
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.projects import NOT_A_PROJECT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, artifacts: Path, operator_node: NodeAgent) -> Iterator[OperatorThread]:
    with OperatorThread(operator_settings(control_plane, artifacts, projects_only=True)) as op:
        yield op


def _not_a_project(obj: Obj) -> bool:
    pending = condition(obj, "Pending")
    return pending.get("status") == "True" and pending.get("reason") == NOT_A_PROJECT


def test_work_outside_a_project_waits_with_the_reason_until_the_namespace_is_labelled(
    operator: OperatorThread, resources: Resources, make_training: Callable[..., Obj], namespace: str,
    api_client: client.ApiClient, artifacts: Path,
) -> None:
    make_training("outside")
    resources.create("inferenceservices", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "server"},
        "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"}, "auth": "none"}})

    for plural, name in (("trainings", "outside"), ("inferenceservices", "server")):
        waiting = resources.wait(plural, namespace, name, _not_a_project)
        assert waiting["status"]["phase"] == "Pending"
        message = condition(waiting, "Pending")["message"]
        assert f"namespace {namespace} is not a kubetune project" in message, message
        assert f"kubectl label namespace {namespace} {lbl.PROJECT}=" in message, message
        assert waiting["status"]["message"] == message
    # Nothing was attempted for them: no child the admission policy would have refused.
    assert client.BatchV1Api(api_client).list_namespaced_job(namespace).items == []
    assert client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items == []
    assert client.CoreV1Api(api_client).list_namespaced_config_map(
        namespace, label_selector=lbl.TRAINING).items == []

    client.CoreV1Api(api_client).patch_namespace(namespace, {"metadata": {"labels": {lbl.PROJECT: namespace}}})
    done = resources.wait_phase("trainings", namespace, "outside", "Succeeded", timeout=180)
    assert condition(done, "Pending")["status"] == "False"
    serving = resources.wait("inferenceservices", namespace, "server",
                             lambda o: (o.get("status") or {}).get("deploymentName") is not None, timeout=120)
    assert not _not_a_project(serving)
    client.AppsV1Api(api_client).read_namespaced_deployment(serving["status"]["deploymentName"], namespace)

"""A Training that names a Kueue queue while the operator's Kueue integration is off fails at once, saying so."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client
from operator_waits import Obj, Resources, condition

from kubetune.operator.inprocess import OperatorThread


def test_a_queue_without_the_kueue_integration_fails_with_the_reason_and_no_job(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    assert not operator.settings.kueue_enabled
    make_training("queued", queue="gpu-a")
    failed = resources.wait_phase("trainings", namespace, "queued", "Failed", "Running", "Succeeded")
    assert failed["status"]["phase"] == "Failed"
    assert condition(failed, "Failed")["reason"] == "QueueUnavailable"
    assert "kueue.enabled=true" in failed["status"]["message"]
    assert not client.BatchV1Api(api_client).list_namespaced_job(namespace).items

"""KubeCluster.pod_log on the real API server: errors arrive before the first byte with their status (no
such pod 404, a caller without pods/log 403), and a pod not on a node yet has an empty log (the API server
answers 204 there, which is not an error).

No node runs here, so no log content: docs/cli.md says why the local node serves none either."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from kubetune.api.cluster.base import Identity, LogOptions
from kubetune.api.cluster.kube import KubeCluster

pytestmark = pytest.mark.integration


async def _read(cluster: KubeCluster, name: str, namespace: str, options: LogOptions) -> bytes:
    return b"".join([chunk async for chunk in cluster.pod_log(name, namespace, options)])


def _status(cluster: KubeCluster, name: str, namespace: str, options: LogOptions) -> int:
    with pytest.raises(ApiException) as info:
        asyncio.run(_read(cluster, name, namespace, options))
    return int(info.value.status)


def test_pod_log_errors_keep_their_status(api_client: client.ApiClient, namespace: str) -> None:
    client.CoreV1Api(api_client).create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unscheduled"},
        "spec": {"containers": [{"name": "trainer", "image": "kubetune/runtime:local"}],
                 "nodeSelector": {"kubetune.io/no-such-node": "true"}}})
    admin = KubeCluster(api_client)
    assert _status(admin, "missing", namespace, LogOptions()) == 404
    assert asyncio.run(_read(admin, "unscheduled", namespace, LogOptions(container="trainer", tail_lines=5))) == b""
    assert _status(admin, "unscheduled", namespace, LogOptions(container="nope")) == 400  # not in the pod
    stranger = admin.as_user(Identity("kubetune:user:stranger", ()))
    assert _status(stranger, "unscheduled", namespace, LogOptions()) == 403

"""Tests against the real local cluster (hack/cluster/up.sh): real kubelet, containerd, CoreDNS.

Collected only when KUBETUNE_CLUSTER_STATE names the state directory of a running cluster (the one
holding cluster.json; `make cluster-test` starts one, runs these, and stops it), and the chart
tests only when KUBETUNE_CLUSTER_CHART says the project's images are on the node. Without them the
modules are not collected, rather than collected and skipped.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

STATE_ENV = "KUBETUNE_CLUSTER_STATE"
CHART_ENV = "KUBETUNE_CLUSTER_CHART"  # set when the operator and api images were imported into the node
collect_ignore_glob = [] if os.environ.get(STATE_ENV) else ["test_*.py"]
if not os.environ.get(CHART_ENV):
    collect_ignore_glob.append("test_chart_*.py")

# kube_waits (list, then watch from its resourceVersion) is shared with the integration tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))


@pytest.fixture(scope="session")
def cluster_info() -> dict[str, Any]:
    info: dict[str, Any] = json.loads((Path(os.environ[STATE_ENV]) / "cluster.json").read_text())
    return info


@pytest.fixture(scope="session")
def api(cluster_info: dict[str, Any]) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=cluster_info["kubeconfig"]) as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(api)
    name = f"c-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_service_account, name, timeout_seconds=60):
        if event["object"].metadata.name == "default":
            w.stop()
            break
    else:
        raise TimeoutError(f"no default ServiceAccount in {name}")
    yield name
    core.delete_namespace(name, propagation_policy="Background")

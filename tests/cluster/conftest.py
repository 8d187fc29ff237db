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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

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
    from kube_waits import create_namespace  # importable once the integration folder is on sys.path

    name = create_namespace(api, "c")
    yield name
    client.CoreV1Api(api).delete_namespace(name, propagation_policy="Background")

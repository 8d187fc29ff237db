"""Which platform the e2e suite runs on.

By default (`make test`): the embedded platform (test_train_to_serve.py). With
KUBETUNE_E2E_KUBECONFIG set (`make e2e-kind`, `make e2e-cluster`, or any cluster with the chart
installed): the same flow against that cluster instead, in the chart's PVC mode
(test_train_to_serve_cluster.py, test_examples_cluster.py) or, with KUBETUNE_E2E_STORAGE=s3
(`make e2e-cluster-s3`), in its S3 mode (test_train_to_serve_cluster_s3.py). The modules that do not
apply are not collected, rather than collected and skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_target import ClusterTarget
from kubernetes import client

# kube_waits (list, then watch from its resourceVersion) is shared with the integration and cluster tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

EMBEDDED_MODULES = {"test_train_to_serve.py"}
PVC_MODULES = {"test_train_to_serve_cluster.py", "test_examples_cluster.py", "test_multinode_cluster.py",
               "test_autoscaling_cluster.py"}
S3_MODULES = {"test_train_to_serve_cluster_s3.py"}
# KEDA, installed by the module itself from manifests the cluster offers (hack/cluster/up.sh --keda).
KEDA_MODULES = {"test_autoscaling_keda_cluster.py"}


def _selected() -> set[str]:
    if not os.environ.get("KUBETUNE_E2E_KUBECONFIG"):
        return EMBEDDED_MODULES
    if os.environ.get("KUBETUNE_E2E_STORAGE") == "s3":
        return S3_MODULES
    return PVC_MODULES | (KEDA_MODULES if os.environ.get("KUBETUNE_E2E_KEDA_MANIFESTS") else set())


collect_ignore = sorted((EMBEDDED_MODULES | PVC_MODULES | S3_MODULES | KEDA_MODULES) - _selected())


# The cluster modules' target and API client (one client per module).
@pytest.fixture(scope="module")
def target() -> ClusterTarget:
    return ClusterTarget.from_env()


@pytest.fixture(scope="module")
def api(target: ClusterTarget) -> Iterator[client.ApiClient]:
    with target.api_client() as api_client:
        yield api_client

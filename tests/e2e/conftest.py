"""Which platform the e2e suite runs on.

By default (`make test`): the embedded platform (test_train_to_serve.py). With
KUBETUNE_E2E_KUBECONFIG set (`make e2e-kind`, or any cluster with the chart installed):
the same flow against that cluster (test_train_to_serve_cluster.py) instead. The module
that does not apply is not collected, rather than collected and skipped.
"""

from __future__ import annotations

import os

CLUSTER_MODULE = "test_train_to_serve_cluster.py"
EMBEDDED_MODULE = "test_train_to_serve.py"

collect_ignore = [EMBEDDED_MODULE if os.environ.get("KUBETUNE_E2E_KUBECONFIG") else CLUSTER_MODULE]

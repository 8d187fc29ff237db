"""The whole flow on the embedded platform, through REST alone (what `make demo` runs).

A tiny Llama-style model is made here; the trainer and the server really run as pods of the
local node. Asserts: the loss fell; the trainer pod wrote its status fields under its own
restricted service account; the InferenceService became Ready and answered; deleting the project
removed everything; no process is left behind. test_train_to_serve_cluster.py runs the same
flow and checks against a real cluster (`make e2e-kind`).
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from kubernetes import client
from train_to_serve_checks import assert_trained_and_served, delete_project

from kubetune.localdev.clients import client_configuration
from kubetune.localdev.demo import run_flow
from kubetune.localdev.platform import LocalPlatform

pytestmark = pytest.mark.e2e


def test_dataset_to_served_model(tmp_path: Path) -> None:
    me = psutil.Process()
    with LocalPlatform.start(tmp_path) as platform:
        seen = run_flow(platform, tmp_path)
        with client.ApiClient(client_configuration(platform.control_plane.kubeconfig)) as api:
            assert_trained_and_served(seen, api)
            pods_before = [p for p in platform.node.processes() if psutil.pid_exists(p)]
            assert pods_before, "the inference server should be running as a pod process"

            # Deleting the project deletes its namespace and, through garbage collection, everything.
            delete_project(platform.api_url, platform.admin_token(), seen, api)
            _, alive = psutil.wait_procs([psutil.Process(p) for p in pods_before if psutil.pid_exists(p)],
                                         timeout=60)
            assert alive == [], "pod processes outlived their namespace"

    # Nothing of the platform outlives it: no control-plane component, no pod process.
    leftovers = [p for p in me.children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == [], [(p.pid, p.name()) for p in leftovers]

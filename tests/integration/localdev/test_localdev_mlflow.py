"""`kubetune dev up --mlflow`: the local platform starts MLflow's own tracking server, and a pod on the local
node reaches it at the URL the platform prints (the node forwards its loopback port into the pod network),
which is the URI a Training's spec.tracking.mlflow.uri names."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from kubernetes import client
from node_waits import LOCAL_NODE, Obj, log_of, wait_for

from kubetune.localdev.clients import client_configuration
from kubetune.localdev.platform import LocalPlatform

pytestmark = pytest.mark.integration
PROBE = "import sys, urllib.request; print('mlflow says', urllib.request.urlopen(sys.argv[1], timeout=30).read())"


def _ended(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def test_the_dev_platform_runs_mlflow_that_pods_reach(tmp_path: Path) -> None:
    with LocalPlatform.start(tmp_path / "platform", mlflow=True) as platform:
        url = platform.mlflow_url
        assert url and url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/health", timeout=30).text == "OK"
        created = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": "dev-up"}, timeout=30)
        assert created.status_code == 200, created.text
        assert (tmp_path / "platform" / "mlflow" / "mlflow.db").is_file()  # kept in the work dir

        with client.ApiClient(client_configuration(platform.control_plane.kubeconfig)) as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_pod("default", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reach-mlflow"},
                "spec": {"nodeName": LOCAL_NODE, "restartPolicy": "Never", "containers": [{
                    "name": "probe", "image": "python:3.11-slim",
                    "command": [sys.executable, "-c", PROBE, f"{url}/health"]}]}})
            pod = wait_for(core.list_namespaced_pod, _ended, "default", field_selector="metadata.name=reach-mlflow")
            log = log_of(platform.node, pod, "probe")
            assert pod["status"]["phase"] == "Succeeded", log
            assert "mlflow says b'OK'" in log

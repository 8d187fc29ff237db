"""The chart's MLflow container arguments, run by MLflow's own server of the same version (make mlflow):
they start it, the Host headers of the chart's Service names are accepted and a foreign one is refused
(MLflow's DNS-rebinding guard), and an artifact goes through the proxied store into the volume."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubetune.chart.helm import CHART_DIR, helm_path, set_args
from kubetune.localdev.mlflow import VERSION, mlflow_bin
from kubetune.train.tracking.mlflow_rest import MlflowRest

pytestmark = pytest.mark.integration


def _deployment() -> dict[str, Any]:
    done = subprocess.run([str(helm_path()), "template", "kt", str(CHART_DIR), "--namespace", "kubetune-system",
                           *set_args({"mlflow.enabled": "true"})], capture_output=True, text=True, check=True)
    return next(d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Deployment"
                and d["metadata"]["name"].endswith("-mlflow"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_charts_arguments_run_mlflows_server(tmp_path: Path) -> None:
    deployment = _deployment()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith(f":v{VERSION}")  # the version the local binary is
    port = _free_port()
    # The pod's paths and address, moved to this machine: the volume is tmp_path, the host loopback.
    args = [a.replace("/mlflow/", f"{tmp_path}/").replace("--host=0.0.0.0", "--host=127.0.0.1")
            .replace("--port=5000", f"--port={port}") for a in container["args"]]
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}, "HOME": str(tmp_path)}
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([str(mlflow_bin()), *args], stdout=log, stderr=subprocess.STDOUT, env=env)
    uri = f"http://127.0.0.1:{port}"
    service = f"{deployment['metadata']['name']}.kubetune-system.svc:5000"
    try:
        deadline = time.monotonic() + 180  # a bound on the start, not a timing assertion
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "mlflow did not become healthy"
            time.sleep(0.5)
        api = "/api/2.0/mlflow/experiments/search"
        for host in (service, "10.244.0.7:5000"):  # the Service's name; a pod or ClusterIP address
            assert httpx.post(f"{uri}{api}", json={"max_results": 1}, headers={"Host": host}).status_code == 200
        for host in ("attacker.example:5000", f"{service.split(':')[0]}.attacker.example"):
            refused = httpx.post(f"{uri}{api}", json={"max_results": 1}, headers={"Host": host})
            assert refused.status_code == 403, refused.text

        client = MlflowRest(uri)
        try:
            _, artifact_uri = client.create_run(client.experiment_id("chart"), "r", 0, {})
            note = tmp_path / "note.txt"
            note.write_text("kept on the volume")
            assert client.upload(artifact_uri, "note.txt", note)  # mlflow-artifacts:, proxied
        finally:
            client.close()
        assert (tmp_path / "mlflow.db").is_file()
        assert [p.read_text() for p in (tmp_path / "artifacts").rglob("note.txt")] == ["kept on the volume"]
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

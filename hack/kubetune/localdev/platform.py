"""The embedded platform: control plane, local node, operator and REST facade on one machine,
with the chart's default Trainers (lora, qlora, full).

    with LocalPlatform.start(work_dir) as p:
        print(p.api_url, p.admin_token, p.control_plane.kubeconfig)

Trainer and inference pods run as host processes of the local node, with the trainer and
server entrypoints of this Python environment. Everything stops when the block exits.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from kubernetes import client

from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane, free_port
from kubetune.localdev.crds import install_crds
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.trainers import apply_default_trainers

if TYPE_CHECKING:
    from kubetune.api.core.config import Settings as ApiSettings

NODE_NAME = "local-node"
SYSTEM_NAMESPACE = "kubetune-system"


def password_token(api_url: str, username: str, password: str) -> str:
    """A facade JWT through the OAuth2 password flow (`POST /api/v1/auth/token`)."""
    resp = httpx.post(f"{api_url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30)
    resp.raise_for_status()
    token: str = resp.json()["access_token"]
    return token


@dataclass
class LocalPlatform:
    """Handles to the running pieces."""

    control_plane: ControlPlane
    node: NodeAgent
    api_url: str
    admin_username: str
    admin_password: str
    artifacts: Path
    trainers: tuple[str, ...] = ()  # the chart's default Trainers, as applied here
    mlflow_url: str | None = None  # MLflow's tracking server, when started (spec.tracking.mlflow.uri)

    def admin_token(self) -> str:
        """A facade JWT for the bootstrap admin."""
        return password_token(self.api_url, self.admin_username, self.admin_password)

    @classmethod
    @contextlib.contextmanager
    def start(cls, work_dir: Path, gpus: int = 0, mlflow: bool = False) -> Iterator[LocalPlatform]:
        from kubetune.api.core.config import Settings as ApiSettings
        from kubetune.operator.inprocess import OperatorThread
        from kubetune.operator.settings import Settings as OperatorSettings

        artifacts = work_dir / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(12)
        # Shared by the operator and the facade, as the chart's auth Secret shares it: the facade's key
        # for each inference server is derived from it (kubetune.crd.serving_keys).
        serving_key = secrets.token_urlsafe(48)
        with ControlPlane.start() as cp, _tracking_server(work_dir, mlflow) as mlflow_url:
            with client.ApiClient(client_configuration(cp.kubeconfig)) as api:
                install_crds(api)
                # What the chart installs besides the platform: its namespace (the facade keeps
                # users and ids there) and the default Trainers, sized for the local node.
                client.CoreV1Api(api).create_namespace({"metadata": {"name": SYSTEM_NAMESPACE}})
                trainers = tuple(apply_default_trainers(api, node_gpus=gpus))
            # MLflow listens on host loopback; the node forwards its port into the pods' network namespace.
            host_ports = (int(mlflow_url.rsplit(":", 1)[1]),) if mlflow_url else ()
            node_config = NodeConfig(kubeconfig=cp.kubeconfig, name=NODE_NAME, gpus=gpus, host_ports=host_ports,
                                     state_dir=work_dir / "node", restart_backoff_seconds=2.0,
                                     kubelet_tls=cp.kubelet_tls(NODE_NAME))  # `kubectl logs` works
            operator_settings = OperatorSettings(
                kubeconfig=str(cp.kubeconfig),
                # Pods on the local node see the host's files, so the store is a plain directory.
                artifact_pvc=None,
                artifact_mount_path=str(artifacts),
                leader_election=False,
                metrics_port=0,
                health_port=0,
                log_format="text",
                log_level="WARNING",
                serve_command=[sys.executable, "-m", "kubetune.serve.cli"],
                report_interval_seconds=1.0,
                serving_key_secret=serving_key,
            )
            api_settings = ApiSettings(
                environment="development",
                storage_root=f"file://{artifacts}",
                bootstrap_admin_password=password,
                jwt_secret=secrets.token_urlsafe(48),
                # Cluster DNS does not reach the host: call server pods by their address.
                inference_routing="pod",
                system_namespace=SYSTEM_NAMESPACE,
                serving_key_secret=serving_key,
            )
            with NodeAgent(node_config) as node, OperatorThread(operator_settings), \
                    _serve_api(api_settings, cp) as api_url:
                yield cls(control_plane=cp, node=node, api_url=api_url,
                          admin_username=api_settings.bootstrap_admin_username, admin_password=password,
                          artifacts=artifacts, trainers=trainers, mlflow_url=mlflow_url)


@contextlib.contextmanager
def _tracking_server(work_dir: Path, enabled: bool) -> Iterator[str | None]:
    """MLflow's own server (SQLite, proxied artifacts) when asked; its state stays in work_dir/mlflow."""
    if not enabled:
        yield None
        return
    from kubetune.localdev.mlflow import mlflow_server

    with mlflow_server(work_dir / "mlflow") as uri:
        yield uri


@contextlib.contextmanager
def _serve_api(settings: ApiSettings, cp: ControlPlane) -> Iterator[str]:
    """The facade on a real HTTP port, in a thread with its own event loop."""
    import uvicorn

    from kubetune.api.cluster.kube import KubeCluster
    from kubetune.api.main import create_app
    from kubetune.localdev.facade_identity import facade_api_client

    # The facade runs as the chart makes it: its own ServiceAccount with the chart's RBAC (it
    # impersonates its callers), never with the control plane's admin credentials.
    with client.ApiClient(client_configuration(cp.kubeconfig)) as admin:
        api = facade_api_client(admin, settings.system_namespace)
    app = create_app(settings, KubeCluster(api))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="kubetune-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the REST facade did not start")
        time.sleep(0.1)  # uvicorn exposes no event for "listening"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        api.close()

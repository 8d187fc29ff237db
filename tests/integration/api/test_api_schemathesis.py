"""Schemathesis against the committed api/openapi.json: generated requests to a served facade, no 5xx."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from api_facade import project_access
from hypothesis import HealthCheck, given, settings
from kubernetes import client

from kubetune.api.cluster.kube import KubeCluster
from kubetune.api.core.config import Settings
from kubetune.api.main import create_app
from kubetune.api.openapi import DEFAULT_PATH
from kubetune.localdev.facade_identity import facade_api_client, remove_facade_binding

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 15
UPSTREAM_STATUSES = {502, 503}  # the inference pass-through reports its upstream; not our failure


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(api_client: client.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The facade on a real port, over the real control plane."""
    tag = uuid.uuid4().hex[:6]
    cfg = Settings(
        environment="development",
        bcrypt_rounds=4,
        system_namespace=f"ktsys-{tag}",
        project_namespace_prefix=f"st{tag}-",
        storage_root=f"file://{tmp_path_factory.mktemp('store')}",
    )
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=cfg.system_namespace))
    )
    own = facade_api_client(api_client, cfg.system_namespace, tag)  # the chart's identity, not the admin's
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(cfg, KubeCluster(own)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:  # waiting on the server's own flag, bounded
        assert thread.is_alive() and time.monotonic() < deadline, "facade did not start"
        time.sleep(0.05)
    with project_access(api_client, cfg.project_namespace_prefix):
        yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)
    own.close()
    client.CoreV1Api(api_client).delete_namespace(cfg.system_namespace)
    remove_facade_binding(api_client, tag)


def _operations() -> list[object]:
    schema = schemathesis.openapi.from_path(Path(DEFAULT_PATH))
    ops = [result.ok() for result in schema.get_all_operations()]
    # The SSE stream never ends by design; it is covered by its own tests.
    return [op for op in ops if not op.path.endswith("/events/stream")]


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_server_errors(served: str, operation: object) -> None:
    token = httpx.post(f"{served}/api/v1/auth/token", data={"username": "admin", "password": "admin123"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())  # type: ignore[attr-defined]
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=served, headers=headers, timeout=30)
        assert response.status_code < 500 or response.status_code in UPSTREAM_STATUSES, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )

    check()

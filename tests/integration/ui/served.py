"""The facade on a real loopback port (uvicorn in a thread), over the real control plane, as the chart runs it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from kubernetes import client

from kubetune.api.cluster.kube import KubeCluster
from kubetune.api.core.config import Settings
from kubetune.api.main import create_app
from kubetune.localdev.facade_identity import facade_api_client, remove_facade_binding


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_facade(api: client.ApiClient, artifacts: Path, serving_key: str) -> Iterator[str]:
    """The base URL of a facade with its own system namespace and project prefix, sharing `artifacts` as its store."""
    tag = uuid.uuid4().hex[:6]
    settings = Settings(environment="development", storage_root=f"file://{artifacts}", bcrypt_rounds=4,
                        system_namespace=f"ktsys-{tag}", project_namespace_prefix=f"ui{tag}-",
                        inference_routing="pod", sse_keepalive_seconds=1, serving_key_secret=serving_key)
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=settings.system_namespace)))
    own = facade_api_client(api, settings.system_namespace, tag)  # the chart's identity, not the admin's
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, KubeCluster(own)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:  # the server's own flag, bounded
            assert thread.is_alive() and time.monotonic() < deadline, "facade did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        own.close()
        core.delete_namespace(settings.system_namespace)
        remove_facade_binding(api, tag)

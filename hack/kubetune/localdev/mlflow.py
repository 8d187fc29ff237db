"""MLflow's own tracking server on loopback (SQLite backend, a local artifact store it proxies), from the
environment hack/mlflow/setup.sh makes: the local platform's tracking server and the tracking tests'."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

VERSION = os.environ.get("MLFLOW_VERSION", "3.17.2")


def mlflow_bin() -> Path:
    cache = Path(os.environ.get("KUBETUNE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                 / "kubetune")
    return cache / "mlflow" / VERSION / "bin" / "mlflow"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(state: Path, *, start_timeout: float = 180.0) -> Iterator[str]:
    """Start the server with its state under `state`; yields its URI, stops it (by pid) on exit."""
    binary = mlflow_bin()
    if not binary.is_file():
        raise FileNotFoundError(f"{binary} is missing: run hack/mlflow/setup.sh (make mlflow)")
    state.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (state / "server.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{state / 'mlflow.db'}",
         "--artifacts-destination", str(state / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                                                   "DO_NOT_TRACK": "true"})
    try:
        deadline = time.monotonic() + start_timeout
        while True:  # its health route answers once the database is migrated
            if process.poll() is not None:
                tail = (state / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"mlflow server exited {process.returncode}: {tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"mlflow server not healthy in {start_timeout}s")
            time.sleep(0.2)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

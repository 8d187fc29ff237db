"""The server's own cost per request: kubetune-serve's app around an instant stand-in model.

What the HTTP stack, validation, admission and batching cost in CPU per /infer request, without
any model time, so that changes to the request path can be compared. Run::

    flock /tmp/kt/heavy.lock .venv/bin/python bench/inference/overhead.py [--http h11 --loop asyncio]

Prints one line per round: requests/s, server and client CPU microseconds per request.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, batch: int, http: str, loop: str) -> None:
    """The child process: the real app, a runtime that answers at once."""
    import uvicorn

    from kubetune.serve.app import create_app
    from kubetune.serve.engines.base import ModelRuntime, Score
    from kubetune.serve.settings import ServeSettings

    class InstantRuntime(ModelRuntime):
        task = "sequence-classification"

        def score_texts(self, texts: list[str], adapter: str | None) -> list[Score]:
            return [Score(0.5, 0.5, "positive") for _ in texts]

    settings = ServeSettings(
        model_uri="unused",
        task="sequence-classification",
        max_concurrent=64,
        queue_size=128,
        max_batch_size=batch,
        cache_enabled=False,
        timeout_seconds=300,
    )
    app = create_app(settings, loader=lambda _: InstantRuntime())
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", http=http, loop=loop)


def measure(args: argparse.Namespace) -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(port), "--batch", str(args.batch), "--http", args.http,
         "--loop", args.loop],
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling a child process at start-up
        for round_index in range(args.rounds):
            bodies = [
                [{"text": f"text {round_index} {client} {r} " * 10} for r in range(args.requests_per_client)]
                for client in range(args.clients)
            ]
            spec: dict[str, Any] = {
                "host": "127.0.0.1", "port": port, "path": "/infer", "server_pid": child.pid, "clients": bodies,
            }  # fmt: skip
            with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
                json.dump(spec, handle)
                handle.flush()
                out = json.loads(
                    subprocess.run(
                        [sys.executable, str(HERE / "loadgen.py"), handle.name], capture_output=True, check=True
                    ).stdout
                )
            count = out["requests"]
            print(
                f"{count / out['seconds']:.0f} requests/s, server {1e6 * out['server_cpu_seconds'] / count:.0f} us "
                f"CPU per request, client {1e6 * out['client_cpu_seconds'] / count:.0f} us"
            )
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests-per-client", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="maxBatchSize (1: batching off).")
    parser.add_argument("--http", default="auto", help="uvicorn's HTTP parser: auto, httptools or h11.")
    parser.add_argument("--loop", default="auto", help="uvicorn's event loop: auto, uvloop or asyncio.")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.child is not None:
        serve(args.child, args.batch, args.http, args.loop)
    else:
        measure(args)


if __name__ == "__main__":
    main()

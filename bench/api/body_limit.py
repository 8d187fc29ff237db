"""How much memory an oversized request body costs the facade, with and without the body limit.

    flock /tmp/kt/heavy.lock .venv/bin/python bench/api/body_limit.py
    flock /tmp/kt/heavy.lock .venv/bin/python bench/api/body_limit.py --gigabytes 0.25 --baseline-mb 64

The facade runs in its own process (uvicorn on 127.0.0.1, over the in-memory fake cluster, so
only the HTTP path is measured) and its RSS is sampled with psutil every 5 ms: before, peak
during, and after each request. Bodies are generated and streamed over loopback, never held
in memory by the client. All requests are anonymous POST /api/v1/trainings (the limit must
hold before authentication). The cases, in one run:

- limited facade, 1 GB body with Content-Length (refused from the head);
- limited facade, 1 GB chunked body without a length (counted, cut off at the limit);
- limited facade, a 1 MB body, read in full (then 401): the cost of a body that is accepted;
- baseline: a facade with the limit switched off, the same chunked body at --baseline-mb
  (a quarter of a GB by default: the whole GB would cost several GB of this shared machine).

Ratio printed: the limited facade's peak growth on 1 GB over the baseline's on its smaller body.
Results go to bench/results/body_limit.json; docs/benchmarks.md and docs/security.md cite them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parents[1] / "results" / "body_limit.json"
CHUNK = 1 << 20
MB = 1 << 20
PATH = "/api/v1/trainings"


def serve(fd: int, unlimited: bool, store: str) -> None:
    """The facade in this (child) process, on the socket the parent bound."""
    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "unit" / "api"))
    from api_env import seed_cluster  # the unit tests' seeding: the system namespace and one Trainer

    from kubetune.api.cluster.fake import FakeCluster
    from kubetune.api.core.config import Settings
    from kubetune.api.main import create_app

    overrides = {"max_request_bytes": 1 << 40, "max_upload_bytes": 1 << 40} if unlimited else {}
    settings = Settings(environment="development", storage_root=f"file://{store}", bcrypt_rounds=4, **overrides)
    fake = FakeCluster()
    asyncio.run(seed_cluster(fake, settings))
    app = create_app(settings, fake)
    uvicorn.run(app, fd=fd, log_level="warning", access_log=False)


class Facade:
    """A facade process on a loopback port, with an RSS sampler."""

    def __init__(self, unlimited: bool, store: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        cmd = [sys.executable, __file__, "--serve-fd", str(fd), "--store", store]
        self.proc = subprocess.Popen([*cmd, "--unlimited"] if unlimited else cmd, pass_fds=[fd])
        self.ps = psutil.Process(self.proc.pid)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.sock.close()


@contextlib.contextmanager
def peak_rss(facade: Facade) -> Iterator[dict[str, int]]:
    found = {"peak": facade.rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            found["peak"] = max(found["peak"], facade.rss())
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join()
        found["peak"] = max(found["peak"], facade.rss())


def json_body(total: int) -> Iterator[bytes]:
    """A valid JSON document of `total` bytes, generated a chunk at a time."""
    head, tail = b'{"description": "', b'"}'
    yield head
    left = total - len(head) - len(tail)
    block = b"x" * CHUNK
    while left > 0:
        yield block[:min(CHUNK, left)]
        left -= CHUNK
    yield tail


async def send(port: int, total: int, chunked: bool) -> dict[str, Any]:
    """Stream the body while reading; a raw socket, so a failed write cannot discard a received answer."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    head = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Connection: close"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")

    async def answer() -> bytes:
        data = b""
        with contextlib.suppress(ConnectionError):
            while block := await loop.sock_recv(sock, 65536):
                data += block
        return data

    started = time.perf_counter()
    reply = asyncio.create_task(answer())
    sent = 0
    with contextlib.suppress(ConnectionError):
        await loop.sock_sendall(sock, ("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in json_body(total):
            if reply.done():
                break
            await loop.sock_sendall(sock, b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            sent += len(chunk)
        if chunked and not reply.done():
            await loop.sock_sendall(sock, b"0\r\n\r\n")
    raw = await reply
    seconds = time.perf_counter() - started
    sock.close()
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
    return {"status": status, "client_sent_mb": round(sent / MB, 1), "seconds": round(seconds, 3)}


def case(facade: Facade, name: str, total: int, chunked: bool) -> dict[str, Any]:
    before = facade.rss()
    with peak_rss(facade) as found:
        result = asyncio.run(send(facade.port, total, chunked))
    after = facade.rss()
    result.update(case=name, body_mb=round(total / MB, 1), chunked=chunked, rss_before_mb=round(before / MB, 1),
                  rss_peak_growth_mb=round((found["peak"] - before) / MB, 1),
                  rss_after_growth_mb=round((after - before) / MB, 1))
    print(json.dumps(result), flush=True)
    return result


def warm(facade: Facade) -> None:
    """Wait for start-up (the request queues in the backlog until then) and touch the code paths once."""
    for _ in range(3):
        asyncio.run(send(facade.port, 64 * 1024, chunked=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=1.0, help="the oversized body sent to the limited facade")
    parser.add_argument("--baseline-mb", type=int, default=256, help="the body sent to the unlimited facade")
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--unlimited", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        serve(args.serve_fd, args.unlimited, args.store)
        return

    big = int(args.gigabytes * (1 << 30))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as store:
        limited = Facade(unlimited=False, store=store)
        try:
            warm(limited)
            results.append(case(limited, "limited, Content-Length", big, chunked=False))
            results.append(case(limited, "limited, chunked", big, chunked=True))
            results.append(case(limited, "limited, 1 MB body read in full", MB, chunked=True))
        finally:
            limited.close()
        unlimited = Facade(unlimited=True, store=store)
        try:
            warm(unlimited)
            results.append(case(unlimited, "baseline: no limit, chunked", args.baseline_mb * MB, chunked=True))
        finally:
            unlimited.close()

    worst = max(r["rss_peak_growth_mb"] for r in results[:2])
    baseline = results[3]["rss_peak_growth_mb"]
    summary = {
        "limited_worst_peak_growth_mb_on_1gb": worst,
        "accepted_1mb_peak_growth_mb": results[2]["rss_peak_growth_mb"],
        "baseline_peak_growth_mb": baseline, "baseline_body_mb": args.baseline_mb,
        "ratio_limited_over_baseline": round(worst / baseline, 4) if baseline > 0 else None,
        "target_met": worst <= 50 and all(r["status"] == 413 for r in results[:2]),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    RESULTS.write_text(json.dumps({"cases": results, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()

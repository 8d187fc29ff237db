"""Does a flood of bad logins delay /healthz? The facade's p99 with and without 40 concurrent bad logins.

    flock /tmp/kt/heavy.lock .venv/bin/python bench/api/login_flood.py
    flock /tmp/kt/heavy.lock .venv/bin/python bench/api/login_flood.py --probes 300 --concurrency 40

The facade runs in its own process (uvicorn on 127.0.0.1, over the in-memory fake cluster: users
live in the watch cache, so a login never reaches the API server and only the facade is measured),
with production's bcrypt cost (12 rounds) and pool (2 workers at a lower CPU priority than the loop,
16 waiting; the login gate in front). The flood comes from a
second process (40 asyncio tasks, each POSTing a wrong password for its own unknown username as
soon as the previous answer arrives), the probe from this one: one keep-alive connection, a
/healthz every 10 ms, each latency measured on its own.

Phases, each on a fresh facade process:
- baseline: the probe alone;
- flood, address throttled: the address's bucket is set to 10 failures, so it is full before the
  probe starts and the flood is answered 429 (by the login gate, from the request head);
- flood, throttle off (limits raised out of reach): every bad login reaches the bcrypt pool, which
  runs full and refuses the excess with 503; this is the case that shows the loop stays free;
- counterfactual, throttle off and bcrypt called on the event loop as the facade did before the pool
  (the pool's submit is patched in the child only): what the flood did to /healthz before. Its probe
  stops after 60 s, so a stalled loop ends the phase with fewer probes.

Bounded: --probes probes per phase (default 400, about 5 s; 60 s at most), the flood stops when
the probe does, and every process is stopped by its pid. Printed: per phase the p50/p99 and the
ratio of the flood p99 over the baseline p99, plus the flood's status counts. Results go to
bench/results/login_flood.json; docs/benchmarks.md and docs/security.md cite them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubetune.api.core.config import Settings

RESULTS = Path(__file__).resolve().parents[1] / "results" / "login_flood.json"
TARGET_P99_MS = 100.0
PER_ADDRESS = 10  # the throttled phase's bucket: small, so it is full before the probe starts


def serve(fd: int, store: str, throttle: bool, inline: bool) -> None:
    """The facade in this (child) process, on the socket the parent bound."""
    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "unit" / "api"))
    from api_env import seed_cluster  # the unit tests' seeding: the system namespace and one Trainer

    from kubetune.api.cluster.fake import FakeCluster
    from kubetune.api.core.config import Settings
    from kubetune.api.main import create_app

    if inline:  # the counterfactual: bcrypt on the event loop, as the facade did before the pool
        from kubetune.api.core.security import PasswordPool

        async def on_the_loop(self: PasswordPool, fn: Any, *args: Any) -> Any:
            return fn(*args)

        PasswordPool._run = on_the_loop  # type: ignore[method-assign]
    overrides: dict[str, Any] = {} if throttle else {"login_failures_per_user": 100000,
                                                     "login_failures_per_address": 100000}
    settings = Settings(environment="development", storage_root=f"file://{store}", bcrypt_rounds=12, **overrides)
    fake = FakeCluster()
    asyncio.run(seed_cluster(fake, settings))
    uvicorn.run(create_app(settings, fake), fd=fd, log_level="warning", access_log=False)


class Facade:
    """A facade process on a loopback port."""

    def __init__(self, store: str, throttle: bool, inline: bool = False, workers: int | None = None,
                 per_address: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # uvicorn treats an inherited fd as a Unix socket and so never sets TCP_NODELAY; without it every
        # response (head and body written apart) waits ~40 ms for a delayed ACK. Accepted sockets inherit it.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        cmd = [sys.executable, __file__, "--serve-fd", str(fd), "--store", store]
        cmd += [] if throttle else ["--no-throttle"]
        env = dict(os.environ)
        if workers is not None:
            env["KUBETUNE_API_PASSWORD_HASH_WORKERS"] = str(workers)
        if per_address is not None:
            env["KUBETUNE_API_LOGIN_FAILURES_PER_ADDRESS"] = str(per_address)
        self.proc = subprocess.Popen([*cmd, "--inline-bcrypt"] if inline else cmd, pass_fds=[fd], env=env)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the facade exited with {self.proc.returncode}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            time.sleep(0.2)  # polling a process that is starting: nothing to wait on but the port
        raise TimeoutError("the facade did not become ready")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.sock.close()


def flood(port: int, concurrency: int, limit_s: float, ready: Any, stop: Any, out: Any) -> None:
    """Child process: `concurrency` keep-alive connections of back-to-back bad logins until `stop` is set
    (or `limit_s` passes).

    Raw asyncio streams and pre-encoded requests, so the flood is limited by the facade, not by an
    HTTP client library competing for the same CPUs."""

    def request(worker: int) -> bytes:
        body = f"username=intruder-{worker}&password=wrong".encode()
        head = (f"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    async def answer(reader: asyncio.StreamReader) -> int:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return int(head.split(b" ", 2)[1])

    async def main() -> dict[str, Any]:
        counts: collections.Counter[int] = collections.Counter()
        stop_at = time.monotonic() + limit_s

        async def one(worker: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            raw = request(worker)
            try:
                while time.monotonic() < stop_at and not stop.is_set():
                    writer.write(raw)
                    counts[await answer(reader)] += 1
            finally:
                writer.close()

        ready.set()
        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(concurrency)))
        elapsed = time.monotonic() - started
        return {"statuses": {str(k): v for k, v in sorted(counts.items())},
                "logins": sum(counts.values()), "logins_per_s": round(sum(counts.values()) / elapsed, 1)}

    out.put(asyncio.run(main()))


def warm_connection(port: int) -> http.client.HTTPConnection:
    """The probe's keep-alive connection, warmed (connection and route) before any flood starts."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(10):
        conn.request("GET", "/healthz")
        conn.getresponse().read()
    return conn


def probe(conn: http.client.HTTPConnection, count: int, interval: float = 0.01,
          limit_s: float = 60) -> dict[str, float]:
    """`count` /healthz probes `interval` apart; fewer if `limit_s` runs out or one waits past the
    connection's 30 s timeout (a stalled loop), which is then counted at the time it waited."""
    latencies = []
    next_at = time.perf_counter()
    give_up = next_at + limit_s
    for _ in range(count):
        if time.perf_counter() > give_up:
            break
        next_at += interval
        t0 = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
        except TimeoutError:
            latencies.append(time.perf_counter() - t0)
            break
        latencies.append(time.perf_counter() - t0)
        if resp.status != 200:
            raise RuntimeError(f"/healthz answered {resp.status}")
        time.sleep(max(0.0, next_at - time.perf_counter()))
    conn.close()
    ordered = sorted(latencies)
    return {"probes": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}


def phase(name: str, store: str, throttle: bool, probes: int, concurrency: int,
          inline: bool = False, workers: int | None = None, per_address: int | None = None) -> dict[str, Any]:
    facade = Facade(store, throttle, inline, workers, per_address)
    try:
        facade.wait_ready()
        result: dict[str, Any] = {"phase": name}
        conn = warm_connection(facade.port)
        if concurrency == 0:
            result.update(probe(conn, probes))
        else:
            ctx = multiprocessing.get_context("spawn")
            ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
            child = ctx.Process(target=flood, args=(facade.port, concurrency, 120, ready, stop, out))
            child.start()
            try:
                if not ready.wait(60):
                    raise TimeoutError("the flood did not start")
                time.sleep(1.0)  # let the flood reach its steady state before probing
                result.update(probe(conn, probes))
                stop.set()  # the flood lasts exactly as long as the probe
                result["flood"] = out.get(timeout=180)
            finally:
                stop.set()
                child.join(timeout=30)
                if child.is_alive():
                    child.terminate()
                    child.join(timeout=30)
        print(json.dumps(result), flush=True)
        return result
    finally:
        facade.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=400, help="/healthz probes per phase, 10 ms apart")
    parser.add_argument("--concurrency", type=int, default=40, help="concurrent bad logins")
    parser.add_argument("--workers", type=int, default=None,
                        help="bcrypt threads of the facade (default: the setting's default)")
    parser.add_argument("--skip-counterfactual", action="store_true",
                        help="leave out the bcrypt-on-the-loop phase (it stalls the facade for up to a minute)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the results go")
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--no-throttle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inline-bcrypt", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        serve(args.serve_fd, args.store, throttle=not args.no_throttle, inline=args.inline_bcrypt)
        return
    if not 1 <= args.probes <= 5000 or not 1 <= args.concurrency <= 200:
        parser.error("--probes must be 1..5000 and --concurrency 1..200 (the run is bounded)")

    with tempfile.TemporaryDirectory() as store:
        w = args.workers
        base = phase("baseline: /healthz alone", store, True, args.probes, 0, workers=w)
        on = phase(f"flood, address throttled after {PER_ADDRESS} failures (429)", store, True, args.probes,
                   args.concurrency, workers=w, per_address=PER_ADDRESS)
        off = phase("flood, throttle off (every login reaches bcrypt)", store, False, args.probes, args.concurrency,
                    workers=w)
        before: dict[str, Any] = {"phase": "counterfactual", "skipped": True} if args.skip_counterfactual else phase(
            "counterfactual: throttle off, bcrypt on the event loop (before the pool)", store, False,
            args.probes, args.concurrency, inline=True)
    summary = {
        "baseline_p99_ms": base["p99_ms"],
        "throttled_p99_ms": on["p99_ms"], "throttled_ratio": round(on["p99_ms"] / base["p99_ms"], 2),
        "throttle_off_p99_ms": off["p99_ms"], "throttle_off_ratio": round(off["p99_ms"] / base["p99_ms"], 2),
        "before_pool_p99_ms": before.get("p99_ms"),
        "before_pool_ratio": round(before["p99_ms"] / base["p99_ms"], 2) if "p99_ms" in before else None,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": max(on["p99_ms"], off["p99_ms"]) < TARGET_P99_MS,
        "concurrency": args.concurrency, "bcrypt_rounds": 12, "cpus": os.cpu_count(),
        "password_hash_workers": w if w is not None else Settings.model_fields["password_hash_workers"].default,
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"phases": [base, on, off, before], "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()

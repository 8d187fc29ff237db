"""A lean HTTP/1.1 load generator, run in its own process by bench/inference/run.py.

The benchmark should measure the server, not its clients. An httpx client per request costs
about a millisecond of CPU in the benchmark process, on the same cores the server needs; this
one keeps one keep-alive connection per client, sends request bytes encoded before the clock
starts and reads each response by its Content-Length, so a request costs tens of microseconds.
Its own CPU seconds are reported, so the reader sees what the load itself cost.

Input (a JSON file named on the command line)::

    {"host": "127.0.0.1", "port": 8002, "path": "/infer", "server_pid": 1234,
     "clients": [[{body}, {body}, ...], ...], "count_tokens": false}

Optional ``"cpu_groups": [pgid, ...]``: the CPU seconds of every process in those process groups over the
measured phase too (a server and the processes it started, e.g. vLLM's engine core).

Output (stdout, one JSON object): requests, seconds, latencies (s), tokens, client and
server CPU seconds over the measured phase (and the groups' CPU seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(groups: list[int]) -> float:
    """User + system CPU time of every live process whose process group is one of ``groups``."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) in groups:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def encode_request(host: str, port: int, path: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length) if length > 0 else b""
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        body += await reader.readexactly(size + 2)
        if size == 0:
            return status, bytes(body[:-2])
        del body[-2:]


class Client:
    """One keep-alive connection sending its requests one after another."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, request: bytes) -> bytes:
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        status, body = await read_response(self.reader)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        return body

    async def run(self, requests: list[bytes], latencies: list[float], bodies: list[bytes]) -> None:
        for request in requests:
            started = time.perf_counter()
            body = await self.send(request)
            latencies.append(time.perf_counter() - started)
            bodies.append(body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, path = spec["host"], int(spec["port"]), spec["path"]
    requests = [[encode_request(host, port, path, body) for body in bodies] for bodies in spec["clients"]]
    clients = [Client(host, port) for _ in requests]
    await asyncio.gather(*(client.connect() for client in clients))
    # Warm-up: every connection once (the server parses its first request, the routes warm up).
    warm = [r[0] for r in requests if r]
    await asyncio.gather(*(client.send(w) for client, w in zip(clients, warm, strict=False)))
    latencies: list[float] = []
    bodies: list[bytes] = []
    pid = int(spec["server_pid"])
    groups = [int(group) for group in spec.get("cpu_groups", [])]
    groups_cpu = group_cpu_seconds(groups) if groups else 0.0
    server_cpu, own_cpu, started = cpu_seconds(pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(client.run(r, latencies, bodies) for client, r in zip(clients, requests, strict=True)))
    elapsed = time.perf_counter() - started
    own = time.process_time() - own_cpu
    server = cpu_seconds(pid) - server_cpu
    groups_spent = group_cpu_seconds(groups) - groups_cpu if groups else 0.0
    await asyncio.gather(*(client.close() for client in clients))
    tokens = 0
    if spec.get("count_tokens"):  # after the clock: parsing responses is not part of the load
        tokens = sum(json.loads(body).get("usage", {}).get("completion_tokens", 0) for body in bodies)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "latencies": latencies,
        "tokens": tokens,
        "client_cpu_seconds": own,
        "server_cpu_seconds": server,
        "group_cpu_seconds": groups_spent,
    }


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    print(json.dumps(asyncio.run(drive(spec))))


if __name__ == "__main__":
    main(sys.argv[1])

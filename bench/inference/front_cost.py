"""What kubetune's front costs a /v1/completions request in front of vLLM, by part, in CPU time.

bench_vllm.py measures the whole: (b) against (a) on a real vLLM. This script splits the front's own share so
that a change to it can be judged without vLLM and without the noise of a shared machine's load (CPU time, not
wall time; the best of several repeats):

1. the app: kubetune-serve's ASGI app (middleware, routing, API-key dependency, body validation, admission,
   batcher, response) called in process with raw ASGI messages, the runtime answering at once;
2. the vLLM runtime: tokenizing a batch, one /v1/completions call of token ids to a stand-in that answers at
   once (a bare asyncio HTTP server in its own process), reading the answer.

What it leaves out (seen in bench_vllm.py's ``front_cpu_ms_per_request``): uvicorn's HTTP parsing and socket
writes, thread hand-offs under load. Run::

    .venv/bin/python bench/inference/front_cost.py              # a few seconds
    .venv/bin/python bench/inference/front_cost.py --profile    # plus the app's top functions (cProfile)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import free_port, sentence  # noqa: E402  (bench/inference/run.py)

CLIENTS = 32

STAND_IN = r"""
import asyncio, json, sys

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = json.loads(await reader.readexactly(length)) if length else {}
            out = {}
            if path == b"/v1/models":
                out = {"data": [{"id": "tiny"}]}
            elif path == b"/v1/completions":
                n = body["max_tokens"]
                out = {"choices": [{"index": i, "text": "word " * n, "finish_reason": "length", "logprobs": None,
                                    "token_ids": list(range(10, 10 + n))} for i in range(len(body["prompt"]))]}
            data = json.dumps(out).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                         % len(data) + data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def best_cpu_seconds(repeats: int, run: Any) -> float:
    """The least process CPU time (all threads) of ``run()`` over ``repeats`` tries."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def app_cost(tokens: int, rounds: int, repeats: int, profile: bool) -> float:
    """CPU microseconds a request in the app, 32 clients at once, the runtime answering at once."""
    from kubetune.serve.app import create_app
    from kubetune.serve.engines.base import Generation, GenerationRequest, ModelRuntime, Sampling
    from kubetune.serve.settings import ServeSettings

    class Instant(ModelRuntime):
        task = "causal-lm"
        supports_logprobs = True

        def generate(self, requests: list[GenerationRequest], sampling: Sampling, adapter: str | None) -> list[Any]:
            return [Generation("word " * r.max_new_tokens, 12, r.max_new_tokens, "length", 0.5, 0.5) for r in requests]

    # As bench_vllm.py's front: engine vllm (batches in flight at once), 5 ms window, cache off, no log lines.
    settings = ServeSettings(
        model_uri="file:///unused",
        model_name="tiny",
        task="causal-lm",
        engine="vllm",
        vllm_url="http://127.0.0.1:9",
        max_concurrent=2 * CLIENTS,
        queue_size=4 * CLIENTS,
        max_batch_size=2 * CLIENTS,
        max_batch_wait_ms=5,
        cache_enabled=False,
        log_level="warning",
    )
    app = create_app(settings, lambda _: Instant())
    bodies = [
        json.dumps({"model": "tiny", "prompt": sentence(c, 12), "max_tokens": tokens, "temperature": 0}).encode()
        for c in range(CLIENTS)
    ]

    async def call(body: bytes) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/completions",
            "raw_path": b"/v1/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2),
            "state": {},
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client never disconnects
            return {}

        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status != [200]:
            raise RuntimeError(f"/v1/completions answered {status}")

    async def clients() -> None:
        async def one(body: bytes) -> None:
            for _ in range(rounds):
                await call(body)

        await asyncio.gather(*(one(b) for b in bodies))

    async def measure() -> float:
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.engine.ready.wait(), 60)
            await clients()  # warm-up
            best = float("inf")
            for _ in range(repeats):
                started = time.process_time()
                await clients()
                best = min(best, time.process_time() - started)
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await clients()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            return best

    return asyncio.run(measure()) * 1e6 / (CLIENTS * rounds)


def runtime_cost(tokens: int, repeats: int) -> tuple[float, float]:
    """CPU microseconds a request of the vLLM runtime's batch of 32: (tokenizing, the whole generate call)."""
    from transformers import AutoTokenizer

    from kubetune.serve.engines.base import GenerationRequest, Sampling
    from kubetune.serve.engines.vllm.client import VLLMClient
    from kubetune.serve.engines.vllm.runtime import VLLMRuntime
    from kubetune.testing.tiny import make_tiny_causal_lm

    work = Path(tempfile.mkdtemp(prefix="kubetune-front-cost-"))
    model = make_tiny_causal_lm(work / "tiny-llama", hidden_size=128, num_heads=2, num_layers=2)
    port = free_port()
    stand_in = subprocess.Popen([sys.executable, "-c", STAND_IN, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/v1/models", timeout=1, trust_env=False)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        runtime = VLLMRuntime(VLLMClient(url), AutoTokenizer.from_pretrained(model), "tiny", 256, [])
        requests = [GenerationRequest(sentence(c, 12), tokens) for c in range(CLIENTS)]
        sampling = Sampling()
        runtime.generate(requests, sampling, None)  # warm-up: the connection, the tokenizer's caches
        batches = 50

        def encode() -> None:
            for _ in range(batches):
                for request in requests:
                    runtime.count_tokens(request.prompt)

        def generate() -> None:
            for _ in range(batches):
                runtime.generate(requests, sampling, None)

        per_request = 1e6 / (batches * CLIENTS)
        return best_cpu_seconds(repeats, encode) * per_request, best_cpu_seconds(repeats, generate) * per_request
    finally:
        stand_in.terminate()
        stand_in.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20, help="requests per client in each measurement")
    parser.add_argument("--repeats", type=int, default=5, help="measurements; the least CPU time is reported")
    parser.add_argument("--profile", action="store_true", help="print the app's top functions (cProfile)")
    args = parser.parse_args()
    app_us = app_cost(args.tokens, args.rounds, args.repeats, args.profile)
    encode_us, generate_us = runtime_cost(args.tokens, args.repeats)
    print(f"app (middleware, routing, dependencies, validation, admission, batcher, response): {app_us:5.0f} us")
    print(f"vLLM runtime in a batch of {CLIENTS} (tokenizing, one call, reading the answer):     {generate_us:5.0f} us")
    print(f"  of which tokenizing:                                                            {encode_us:5.0f} us")
    print(f"CPU a request, both parts: {app_us + generate_us:.0f} us (uvicorn's HTTP handling comes on top)")


if __name__ == "__main__":
    main()

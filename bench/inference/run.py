"""Inference server benchmark: dynamic batching against the model's own limit and against no batching.

Builds its models on the spot (random weights, no download), then measures:

(a) the raw model: tokenise + forward + softmax in-process at batch sizes 1..64, best throughput (the limit);
(b) kubetune-serve with dynamic batching, 32 concurrent clients on /infer;
(c) the same server with batching off (max batch size 1);
plus generation: server tokens/s under 32 concurrent /generate clients against a plain
transformers ``generate()`` loop over the same prompts, and p50/p99 latencies.

The clients are ``loadgen.py`` in a process of its own (raw asyncio streams, keep-alive
connections, request bytes encoded before the clock starts), so that the load costs the
shared cores as little as possible; its CPU seconds are reported beside the server's.

Run::

    flock /tmp/kt/heavy.lock .venv/bin/python bench/inference/run.py      # CPU, ~2 minutes on 2 cores
    .venv/bin/python bench/inference/run.py --device cuda --requests-per-client 32

Results go to stdout and to ``bench/inference/results.json``; docs/benchmarks.md cites them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

# The same OpenMP wait policy as kubetune-serve (see kubetune.serve.cli), so that (a) and (b) compare
# like with like; set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent

CORPUS = (
    "the quick brown fox jumps over the lazy dog while kubernetes runs containers in pods and a job "
    "runs pods to completion this movie was wonderful i loved it the weather today is sunny with a light "
    "breeze from the west two plus two equals four three times three is nine"
)
WORDS = CORPUS.split()


def sentence(index: int, length: int) -> str:
    """A distinct text of ``length`` words (distinct so that no cache could help)."""
    return " ".join(WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(length)) + f" {index}"


@dataclass
class Config:
    device: str
    clients: int
    requests_per_client: int
    words: int
    gen_prompts: int
    gen_tokens: int
    rounds: int
    raw_items: int
    unbatched_requests: int
    server_batch: int


def build_encoder(directory: Path) -> tuple[Path, int]:
    """A ~14M-parameter BERT-style classifier (8 layers, hidden 384) with the tiny WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from kubetune.testing.tiny import train_wordpiece_tokenizer

    tokenizer = train_wordpiece_tokenizer(WORDS, vocab_size=1024)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=384,
        num_hidden_layers=8,
        num_attention_heads=6,
        intermediate_size=1536,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory, sum(p.numel() for p in model.parameters())


def build_decoder(directory: Path) -> tuple[Path, int]:
    """A ~11M-parameter Llama-style causal LM."""
    from transformers import AutoModelForCausalLM

    from kubetune.testing.tiny import make_tiny_causal_lm

    make_tiny_causal_lm(directory, hidden_size=384, intermediate_size=1024, num_layers=6, num_heads=6)
    model = AutoModelForCausalLM.from_pretrained(directory)
    return directory, sum(p.numel() for p in model.parameters())


def load_encoder_runtime(model_dir: Path, device: str) -> Any:
    from kubetune.serve.engines.loader import load_runtime
    from kubetune.serve.settings import ServeSettings

    return load_runtime(ServeSettings(model_uri=str(model_dir), task="sequence-classification", device=device))


def raw_throughput(runtime: Any, texts: list[str], size: int, items: int) -> tuple[float, float]:
    """(a) at one batch size: items per wall second and per CPU second of the runtime's own batch call."""
    runtime.score_texts(texts[:size], None)  # warm-up
    count = max(items, size * 2)
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, count, size):
        runtime.score_texts([texts[(start + i) % len(texts)] for i in range(size)], None)
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plain_generate(model_dir: Path, prompts: list[str], tokens: int, device: str) -> tuple[float, float]:
    """The baseline: one transformers generate() call per prompt, greedy, one after another."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir)
    model = model.to(device).eval()
    generated = 0
    with torch.inference_mode():
        model.generate(**tokenizer(prompts[0], return_tensors="pt").to(device), max_new_tokens=4)
        started, cpu = time.perf_counter(), time.process_time()
        for prompt in prompts:
            encoded = tokenizer(prompt, return_tensors="pt").to(device)
            out = model.generate(**encoded, max_new_tokens=tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            generated += out.shape[1] - encoded["input_ids"].shape[1]
    return generated / (time.perf_counter() - started), generated / (time.process_time() - cpu)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """kubetune-serve in its own process, as in a pod."""

    def __init__(self, model_dir: Path, task: str, device: str, batch: int, concurrency: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            str(VENV_BIN / "kubetune-serve"),
            "--model-uri", str(model_dir), "--task", task, "--device", device,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--max-concurrent", str(concurrency), "--queue-size", str(concurrency * 2),
            "--max-batch-size", str(batch), "--max-batch-wait-ms", "5", "--timeout-seconds", "300",
            "--no-cache", "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        self.process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("kubetune-serve exited during start-up")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # a benchmark harness polling a child process, not a test
        raise TimeoutError("kubetune-serve did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    tokens: int = 0
    tokens_per_second: float = 0.0
    server_cpu_seconds: float = 0.0
    per_cpu_second: float = 0.0
    client_cpu_seconds: float = 0.0
    group_cpu_seconds: float = 0.0  # the CPU of the process groups named to load(), when named


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def load(
    server: Server,
    path: str,
    bodies: list[list[dict[str, Any]]],
    count_tokens: bool = False,
    cpu_groups: list[int] | None = None,
) -> LoadResult:
    """Each client sends its bodies one after another, all clients at once, from loadgen.py's process.

    ``cpu_groups``: process groups whose CPU seconds over the measured phase are reported too."""
    spec = {
        "host": "127.0.0.1",
        "port": server.port,
        "path": path,
        "server_pid": server.pid,
        "clients": bodies,
        "count_tokens": count_tokens,
        "cpu_groups": cpu_groups or [],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="kubetune-load-") as handle:
        json.dump(spec, handle)
        handle.flush()
        done = subprocess.run(
            [sys.executable, str(HERE / "loadgen.py"), handle.name], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    ordered = sorted(out["latencies"])
    count, elapsed, server_cpu = out["requests"], out["seconds"], out["server_cpu_seconds"]
    return LoadResult(
        requests=count,
        seconds=round(elapsed, 3),
        per_second=round(count / elapsed, 2),
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p99_ms=round(percentile(ordered, 0.99) * 1000, 1),
        tokens=out["tokens"],
        tokens_per_second=round(out["tokens"] / elapsed, 1),
        server_cpu_seconds=round(server_cpu, 2),
        per_cpu_second=round(count / server_cpu, 2) if server_cpu else 0.0,
        client_cpu_seconds=round(out["client_cpu_seconds"], 3),
        group_cpu_seconds=round(out.get("group_cpu_seconds", 0.0), 3),
    )


def best(results: list[LoadResult]) -> LoadResult:
    return max(results, key=lambda r: r.per_second)


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of per-round figures."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main(cfg: Config) -> dict[str, Any]:
    """Interleaved rounds: on a shared machine, each round's figures are taken side by side."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="kubetune-bench-") as work:
        return measure(cfg, Path(work))


def measure(cfg: Config, work: Path) -> dict[str, Any]:
    load_at_start = os.getloadavg()[0]
    encoder, encoder_params = build_encoder(work / "encoder")
    decoder, decoder_params = build_decoder(work / "decoder")
    texts = [sentence(i, cfg.words) for i in range(cfg.clients * cfg.requests_per_client * (cfg.rounds + 1) + 64)]
    runtime = load_encoder_runtime(encoder, cfg.device)

    sizes = (1, 4, 8, 16, 32, 64)
    limit: dict[int, float] = {}
    limit_cpu: dict[int, float] = {}
    for size in sizes:
        limit[size], limit_cpu[size] = raw_throughput(runtime, texts, size, cfg.raw_items)
    # Each round measures (a) again at the size the sweep found best; (a) is the best figure at any size.
    best_size = max(limit, key=lambda size: limit[size])

    # maxBatchSize of the batched server: by default the number of clients, since a batch never holds
    # more requests than are in flight (not the sweep's argmax, which on a busy machine is noise).
    server_batch = cfg.server_batch or cfg.clients
    batched_server = Server(encoder, "sequence-classification", cfg.device, server_batch, cfg.clients)
    unbatched_server = Server(encoder, "sequence-classification", cfg.device, 1, cfg.clients)
    raw_rounds: list[float] = []
    raw_cpu_rounds: list[float] = []
    batched: list[LoadResult] = []
    unbatched: list[LoadResult] = []
    offset = 0
    try:
        batched_server.wait_ready()
        unbatched_server.wait_ready()
        for _ in range(cfg.rounds):
            wall, per_cpu = raw_throughput(runtime, texts, best_size, cfg.raw_items)
            raw_rounds.append(wall)
            raw_cpu_rounds.append(per_cpu)
            bodies = [
                [{"text": texts[offset + c * cfg.requests_per_client + r]} for r in range(cfg.requests_per_client)]
                for c in range(cfg.clients)
            ]
            offset += cfg.clients * cfg.requests_per_client
            batched.append(load(batched_server, "/infer", bodies))
            unbatched.append(load(unbatched_server, "/infer", [b[: cfg.unbatched_requests] for b in bodies]))
    finally:
        batched_server.stop()
        unbatched_server.stop()
    del runtime
    limit[best_size] = max(limit[best_size], *raw_rounds)
    limit_cpu[best_size] = max(limit_cpu[best_size], *raw_cpu_rounds)

    prompts = [sentence(i, 8) for i in range(cfg.gen_prompts)]
    per_client = max(1, cfg.gen_prompts // cfg.clients)
    gen_bodies = [
        [{"prompt": prompts[(c * per_client + r) % len(prompts)], "max_tokens": cfg.gen_tokens, "temperature": 0}
         for r in range(per_client)]
        for c in range(cfg.clients)
    ]  # fmt: skip
    generation: list[LoadResult] = []
    baseline_tps = baseline_cpu_tps = 0.0
    gen_server = Server(decoder, "causal-lm", cfg.device, cfg.clients, cfg.clients)
    try:
        gen_server.wait_ready()
        for _ in range(2):
            wall_tps, cpu_tps = plain_generate(decoder, prompts, cfg.gen_tokens, cfg.device)
            baseline_tps, baseline_cpu_tps = max(baseline_tps, wall_tps), max(baseline_cpu_tps, cpu_tps)
            generation.append(load(gen_server, "/generate", gen_bodies, count_tokens=True))
    finally:
        gen_server.stop()
    gen_best = max(generation, key=lambda r: r.tokens_per_second)
    gen_cpu_tps = max(r.tokens / r.server_cpu_seconds for r in generation if r.server_cpu_seconds)

    a_size = max(limit, key=lambda size: limit[size])
    a_best = limit[a_size]  # the limit: the best wall-clock figure at any batch size, any round
    a_cpu_best = max(limit_cpu.values())
    b, c = best(batched), best(unbatched)
    b_cpu = statistics.median(r.per_cpu_second for r in batched)
    c_cpu = statistics.median(r.per_cpu_second for r in unbatched)
    return {
        "config": asdict(cfg),
        "machine": {
            "cpus": os.cpu_count(),
            "device": cfg.device,
            "load_average_at_start": round(load_at_start, 2),
            "load_average_at_end": round(os.getloadavg()[0], 2),
        },
        "encoder_parameters": encoder_params,
        "decoder_parameters": decoder_params,
        "a_raw_items_per_second_by_batch": {str(k): round(v, 2) for k, v in limit.items()},
        "a_raw_items_per_cpu_second_by_batch": {str(k): round(v, 2) for k, v in limit_cpu.items()},
        "a_raw_best": {
            "batch_size": a_size,
            "items_per_second": round(a_best, 2),
            "items_per_cpu_second": round(a_cpu_best, 2),
        },
        "a_rounds_batch_size": best_size,
        "b_server_max_batch_size": server_batch,
        "a_rounds_per_second": [round(v, 2) for v in raw_rounds],
        "b_server_batched": asdict(b),
        "b_rounds_per_second": [r.per_second for r in batched],
        "b_rounds_per_cpu_second": [r.per_cpu_second for r in batched],
        "b_rounds_client_cpu_seconds": [r.client_cpu_seconds for r in batched],
        "b_rounds_server_cpu_seconds": [r.server_cpu_seconds for r in batched],
        "c_server_unbatched": asdict(c),
        "c_rounds_per_second": [r.per_second for r in unbatched],
        "c_rounds_per_cpu_second": [r.per_cpu_second for r in unbatched],
        # Headline ratios: best round of (b) against the best (a) seen at any size in any round.
        "b_over_a": round(b.per_second / a_best, 3),
        "b_over_c": round(b.per_second / c.per_second, 3),
        # Paired ratios: each round's (b) against the (a) and (c) measured beside it.
        "b_over_a_by_round": spread([r.per_second / a for r, a in zip(batched, raw_rounds, strict=True)]),
        "b_over_c_by_round": spread([r.per_second / u.per_second for r, u in zip(batched, unbatched, strict=True)]),
        "b_over_a_per_cpu_second": round(b_cpu / a_cpu_best, 3),
        "b_over_c_per_cpu_second": round(b_cpu / c_cpu, 3),
        "generation": {
            "plain_generate_tokens_per_second": round(baseline_tps, 1),
            "server": asdict(gen_best),
            "server_over_plain": round(gen_best.tokens_per_second / baseline_tps, 3),
            "plain_generate_tokens_per_cpu_second": round(baseline_cpu_tps, 1),
            "server_tokens_per_cpu_second": round(gen_cpu_tps, 1),
            "server_over_plain_per_cpu_second": round(gen_cpu_tps / baseline_cpu_tps, 3),
        },
    }


def parse_args(argv: list[str] | None = None) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests-per-client", type=int, default=8)
    parser.add_argument("--words", type=int, default=40, help="Words per /infer text.")
    parser.add_argument("--gen-prompts", type=int, default=32)
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds of (a), (b) and (c).")
    parser.add_argument("--raw-items", type=int, default=256, help="Items per raw-throughput measurement.")
    parser.add_argument("--unbatched-requests", type=int, default=2, help="Requests per client, batching off.")
    parser.add_argument("--server-batch", type=int, default=0, help="maxBatchSize of (b); 0: the clients.")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="Where the JSON results go.")
    args = parser.parse_args(argv)
    config = Config(
        args.device, args.clients, args.requests_per_client, args.words, args.gen_prompts, args.gen_tokens,
        args.rounds, args.raw_items, args.unbatched_requests, args.server_batch,
    )  # fmt: skip
    return config, args.out


if __name__ == "__main__":
    run_config, out = parse_args()
    text = json.dumps(main(run_config), indent=2)
    print(text)
    out.write_text(text + "\n")

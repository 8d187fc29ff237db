"""Distributed overhead: tokens/s of N processes versus one process at the same global batch.

Run (CPU, gloo; 1 process with 2 threads versus 2 processes with 1 thread each)::

    HF_HUB_OFFLINE=1 flock /tmp/kt/heavy.lock .venv/bin/python bench/trainer/bench_distributed.py \
        --device cpu --processes 2 --size 20m --steps 10 --batch 8 --repeats 3 --method lora --method full

On a GPU machine (1 GPU versus N GPUs, NCCL; bf16)::

    .venv/bin/python bench/trainer/bench_distributed.py --device cuda --processes 8 --size 160m --batch 64

Each run is ``kubetune-train --config FILE`` in a child process, exactly as a pod runs it: one
process, or the launcher with ``processesPerNode`` ranks (DDP for ``--method lora``, FSDP2 for
``--method full``). Both sides train the same Llama-shaped model on the same data with the same
global batch (``--batch``; each of N ranks takes batch/N), so the loss curves are the same and only
the speed differs. tokens/s is the whole job's (rank 0 logs the tokens of all ranks per step): the
median over steps after the first two, then the median over ``--repeats`` runs of each side in
alternating order (a shared machine's noise hits both). ``--scaling weak`` keeps the per-rank batch instead (N times
the global batch), the usual GPU measure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = {  # hidden, intermediate, layers, heads, vocab (Llama shapes)
    "tiny": (128, 344, 4, 4, 2048),
    "20m": (256, 688, 8, 8, 32000),
    "160m": (768, 2048, 12, 12, 32000),
}
WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "sigma",
)  # fmt: skip


def _dataset(path: Path, examples: int) -> None:
    rng = random.Random(0)
    with path.open("w") as handle:
        for _ in range(examples):
            items = [rng.choice(WORDS) for _ in range(rng.randint(8, 30))]
            chat = [
                {"role": "user", "content": "Sort these words: " + " ".join(items)},
                {"role": "assistant", "content": " ".join(sorted(items))},
            ]
            handle.write(json.dumps({"messages": chat}) + "\n")


def _model(directory: Path, size: str) -> Path:
    from kubetune.testing.tiny import make_tiny_causal_lm

    hidden, intermediate, layers, heads, vocab = SIZES[size]
    return make_tiny_causal_lm(
        directory,
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_layers=layers,
        num_heads=heads,
        max_position_embeddings=1024,
    )


def _run(args: argparse.Namespace, model: Path, data: Path, work: Path, processes: int, method: str) -> dict[str, Any]:
    out = work / f"{method}-{processes}"
    batch = args.batch if args.scaling == "weak" else args.batch // processes
    config = {
        "baseModel": str(model),
        "method": method,
        "dataset": {"uri": str(data), "format": "openai_chat_jsonl"},
        "output": str(out),
        "resume": "none",
        "hyperparameters": {
            "batchSize": batch,
            "maxSteps": args.steps,
            "maxSeqLength": args.seq,
            "learningRate": 1e-4,
            "loraDropout": 0.0,
        },
        "distributed": {"processesPerNode": processes, "strategy": "ddp" if method != "full" else "fsdp"},
    }
    path = work / f"{method}-{processes}.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["OMP_NUM_THREADS"] = str(max(1, args.threads // processes))  # the same cores for both sides
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.train.cli", "--config", str(path), "--no-report", "--log-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{method} x{processes} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "tokens_per_second" in r]
    return {
        "processes": processes,
        "method": method,
        "per_rank_batch": batch,
        "global_batch": batch * processes,
        "tokens_per_second": statistics.median(r["tokens_per_second"] for r in steps[2:]),
        "wall_seconds": round(wall, 1),
        "losses": [round(r["loss"], 4) for r in steps],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--processes", type=int, default=2, help="N (GPUs with --device cuda)")
    parser.add_argument("--method", action="append", choices=("lora", "full"), help="repeatable; default lora")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=8, help="global batch (strong scaling)")
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--scaling", choices=("strong", "weak"), default="strong")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads shared by the ranks")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, alternating order")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    if args.scaling == "strong" and args.batch % args.processes:
        raise SystemExit("--batch must be a multiple of --processes")
    results = []
    with tempfile.TemporaryDirectory(prefix="kt-bench-dist-") as tmp:
        work = Path(tmp)
        model, data = _model(work / "model", args.size), work / "train.jsonl"
        _dataset(data, max(64, args.batch * (args.steps + 2) * (args.processes if args.scaling == "weak" else 1)))
        for method in args.method or ["lora"]:
            ones: list[dict[str, Any]] = []
            manys: list[dict[str, Any]] = []
            for repeat in range(args.repeats):  # alternating order: a noisy neighbour hits both sides
                order = (1, args.processes) if repeat % 2 == 0 else (args.processes, 1)
                for processes in order:
                    (ones if processes == 1 else manys).append(_run(args, model, data, work, processes, method))
            one_tps = statistics.median(r["tokens_per_second"] for r in ones)
            many_tps = statistics.median(r["tokens_per_second"] for r in manys)
            ratio = many_tps / one_tps
            results.append({"one": ones, "many": manys, "ratio": round(ratio, 3)})
            print(
                f"{method} ({'ddp' if method != 'full' else 'fsdp'}, {args.device}, {args.size}): "
                f"1 process {one_tps:.0f} tok/s, {args.processes} processes {many_tps:.0f} tok/s "
                f"(medians of {args.repeats}), ratio {ratio:.2f}; global batch {ones[0]['global_batch']} vs "
                f"{manys[0]['global_batch']}; runs 1: {[round(r['tokens_per_second']) for r in ones]}, "
                f"{args.processes}: {[round(r['tokens_per_second']) for r in manys]}"
            )
    if args.out:
        args.out.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1)
        )


if __name__ == "__main__":
    main()

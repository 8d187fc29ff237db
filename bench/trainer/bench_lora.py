"""kubetune-train's lean loop versus transformers' Trainer: same model, data, LoRA and hyperparameters.

Run (CPU; a few minutes on 2 cores)::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/trainer/bench_lora.py --steps 12 --batch 4 --repeats 3 \
        --packing --out bench/trainer/results-cpu.json

On a GPU add ``--size 1b`` for a ~1B Llama shape in bf16 (reports MFU too).
Both sides get the same PEFT model (built by kubetune.train.modeling), the same
encoded features and the same collate function; only the loop differs. Runs
alternate order over repeats. Tokens/s is the median of per-step rates (robust
to other processes on a shared machine); the total rate is reported too.
Loss is compared as the mean of the last five steps; tokens are non-padding.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

SIZES = {
    # hidden, intermediate, layers, heads, vocab: Llama shapes
    "20m": (512, 1376, 6, 8, 4096),
    "1b": (2048, 5632, 22, 32, 32000),
}
WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "red",
    "green", "blue", "cyan", "magenta", "yellow", "black", "white",
)  # fmt: skip


def make_dataset(path: Path, n: int, seed: int = 0) -> None:
    """Memorisable chats: a key maps to a fixed sentence of words, 40-120 words long."""
    rng = random.Random(seed)
    with path.open("w") as handle:
        for i in range(n):
            answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120)))
            line = {
                "messages": [
                    {"role": "user", "content": f"Recite passage {i}."},
                    {"role": "assistant", "content": answer},
                ]
            }
            handle.write(json.dumps(line) + "\n")


def build(work: Path, size: str, steps: int, batch: int, seq: int, lr: float) -> tuple[Any, Path]:
    from kubetune.crd.runconfig import TrainRunConfig
    from kubetune.testing.tiny import make_tiny_causal_lm

    hidden, inter, layers, heads, vocab = SIZES[size]
    model_dir = make_tiny_causal_lm(
        work / "model",
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=inter,
        num_layers=layers,
        num_heads=heads,
        max_position_embeddings=2048,
        corpus=WORDS,
    )
    make_dataset(work / "train.jsonl", 256)
    config = TrainRunConfig.model_validate(
        {
            "baseModel": str(model_dir),
            "output": str(work / "out"),
            "resume": "none",
            "dataset": {"uri": str(work / "train.jsonl"), "format": "openai_chat_jsonl"},
            "hyperparameters": {
                "learningRate": lr,
                "maxSteps": steps,
                "batchSize": batch,
                "maxSeqLength": seq,
                "loraRank": 16,
                "loraAlpha": 32,
                "loraDropout": 0.0,
                "seed": 1,
            },
        }
    )
    return config, model_dir


def count_tokens(model: Any, pad_id: int) -> dict[str, int]:
    """Non-padding tokens of every training forward pass, counted the same way for both loops."""
    seen = {"n": 0}

    def hook(_module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if not model.training:
            return
        if kwargs.get("attention_mask") is not None:
            seen["n"] += int(kwargs["attention_mask"].sum())
        else:  # packed rows carry no 2D mask: count the non-padding tokens
            seen["n"] += int((kwargs["input_ids"] != pad_id).sum())

    model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


class StepClock:
    """Per-step wall time and tokens, so that a burst of load from other processes on a shared
    machine spoils single steps, not the figure: tokens/s is the median of per-step rates (the first
    step, which pays warm-up, excluded), beside the plain total rate."""

    def __init__(self, tokens: dict[str, int]) -> None:
        self.tokens = tokens
        self.marks: list[tuple[float, int]] = []

    def start(self) -> None:
        self.marks = [(time.perf_counter(), self.tokens["n"])]

    def step(self) -> None:
        self.marks.append((time.perf_counter(), self.tokens["n"]))

    def result(self) -> dict[str, float]:
        rates = [(n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in zip(self.marks, self.marks[1:], strict=False)]
        seconds = self.marks[-1][0] - self.marks[0][0]
        total = self.marks[-1][1] - self.marks[0][1]
        return {
            "seconds": seconds,
            "tokens": total,
            "tokens_per_second_total": total / seconds,
            "tokens_per_second": statistics.median(rates[1:] or rates),
        }


def _prepared(config: Any, model_dir: Path) -> tuple[Any, list[dict[str, Any]]]:
    import torch

    from kubetune.train import data, modeling
    from kubetune.train.runner import prepare_features

    torch.manual_seed(config.hyperparameters.seed)
    loaded = modeling.load(config, model_dir)
    if torch.cuda.is_available():
        loaded.model.to("cuda")
    train, _ = prepare_features(config, loaded, data.load_splits(config.dataset, 1))
    return loaded, train


def run_kubetune(config: Any, model_dir: Path) -> dict[str, Any]:
    from kubetune.train import data
    from kubetune.train.loop import Loop

    loaded, train = _prepared(config, model_dir)
    tokens = count_tokens(loaded.model, loaded.processor.pad_token_id)
    losses: list[float] = []
    clock = StepClock(tokens)

    def notify(kind: str, record: dict[str, Any]) -> None:
        if kind == "started":
            clock.start()
        if kind == "step":
            losses.append(record["loss"])
            clock.step()

    loop = Loop(
        model=loaded.model,
        train_features=train,
        eval_features=[],
        hp=config.hyperparameters,
        collate=partial(data.collate, pad_id=loaded.processor.pad_token_id),
        causal=True,
        output=Path(config.output),
        notify=notify,
    )
    loop.run()
    return {**clock.result(), "losses": losses, "params": _params(loaded.model)}


def run_hf_trainer(config: Any, model_dir: Path) -> dict[str, Any]:
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from kubetune.train import data

    loaded, train = _prepared(config, model_dir)
    hp = config.hyperparameters
    tokens = count_tokens(loaded.model, loaded.processor.pad_token_id)
    losses: list[float] = []
    clock = StepClock(tokens)
    collate = partial(data.collate, pad_id=loaded.processor.pad_token_id)

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
            clock.start()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            clock.step()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    use_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    args = TrainingArguments(
        output_dir=str(Path(config.output) / "hf"),
        per_device_train_batch_size=hp.batch_size,
        learning_rate=hp.learning_rate,
        max_steps=hp.max_steps,
        lr_scheduler_type=hp.lr_scheduler,
        warmup_steps=0,
        weight_decay=hp.weight_decay,
        max_grad_norm=1.0,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=hp.seed,
        bf16=use_bf16,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )
    trainer = Trainer(model=loaded.model, args=args, train_dataset=train, data_collator=collate, callbacks=[Clock()])
    trainer.train()
    return {**clock.result(), "losses": losses, "params": _params(loaded.model)}


def _params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def _final(losses: list[float]) -> float:
    tail = losses[-5:]
    return sum(tail) / len(tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="20m")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--packing", action="store_true", help="also time kubetune with packing")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats per loop; medians reported")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="GPU dense bf16 peak, for MFU")
    parser.add_argument("--out", type=Path, default=Path("bench/trainer/results.json"))
    args = parser.parse_args()
    import torch

    runners = {"baseline_hf_trainer": run_hf_trainer, "kubetune": run_kubetune}
    with tempfile.TemporaryDirectory() as tmp:
        config, model_dir = build(Path(tmp), args.size, args.steps, args.batch, args.seq, args.lr)
        configs = {"baseline_hf_trainer": config, "kubetune": config}
        if args.packing:
            runners["kubetune_packed"] = run_kubetune
            configs["kubetune_packed"] = config.model_copy(
                update={"hyperparameters": config.hyperparameters.model_copy(update={"packing": True})}
            )
        warm = config.model_copy(update={"hyperparameters": config.hyperparameters.model_copy(update={"max_steps": 2})})
        run_kubetune(warm, model_dir)  # first-run costs (allocator, kernel selection) paid by nobody measured
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in runners}
        for repeat in range(args.repeats):
            names = list(runners) if repeat % 2 == 0 else list(reversed(runners))  # alternate the order
            for name in names:
                samples[name].append(runners[name](configs[name], model_dir))
    base_tps = statistics.median(r["tokens_per_second"] for r in samples["baseline_hf_trainer"])
    base_loss = statistics.median(_final(r["losses"]) for r in samples["baseline_hf_trainer"])
    summary = {
        "size": args.size,
        "steps": args.steps,
        "batch": args.batch,
        "seq": args.seq,
        "lr": args.lr,
        "repeats": args.repeats,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "params": samples["kubetune"][0]["params"],
        "runs": {},
    }
    for name, runs in samples.items():
        tps = statistics.median(r["tokens_per_second"] for r in runs)
        loss = statistics.median(_final(r["losses"]) for r in runs)
        entry = {
            "tokens_per_second_median": round(tps, 1),
            "tokens_per_second_all": [round(r["tokens_per_second"], 1) for r in runs],
            "tokens_per_second_total_all": [round(r["tokens_per_second_total"], 1) for r in runs],
            "final_loss_median": round(loss, 4),
            "first_loss": round(runs[0]["losses"][0], 4),
            "speedup_vs_baseline": round(tps / base_tps, 3),
            "final_loss_vs_baseline": round(loss / base_loss, 4),
        }
        if torch.cuda.is_available():
            # MFU: 6 * params * tokens/s over the GPU's dense bf16 peak (H100 SXM: 989 TFLOP/s).
            entry["mfu"] = round(6 * summary["params"] * tps / (args.peak_tflops * 1e12), 4)
        summary["runs"][name] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""kubetune-train's loop versus transformers' Trainer: same model, data, LoRA and hyperparameters.

Run (CPU; about ten minutes on 2 cores)::

    HF_HUB_OFFLINE=1 flock /tmp/kt/heavy.lock .venv/bin/python bench/trainer/bench_lora.py \
        --steps 20 --batch 8 --seq 512 --repeats 3 --out bench/trainer/results-cpu.json

On a GPU add ``--size 1b`` for a ~1B Llama shape in bf16 (reports MFU too).

Both sides get the same PEFT model (built by kubetune.train.modeling), the same
encoded features (a mixed SFT set, loss on assistant tokens only) and the same
hyperparameters. The baseline is Trainer with its defaults and the usual padded
collate; kubetune runs as ``kubetune-train`` does by default (each batch's
examples packed into rows, logits only where labels are: see docs/trainer.md).
``kubetune_padded_full_logits`` is the same loop with both turned off (the loop
alone). Runs alternate order over repeats. Tokens are the real (non-padding)
input tokens every forward pass processes, counted by one hook on the decoder
body for every run; tokens/s is the median of per-step rates (first step
excluded), then the median over repeats. Loss: the mean of the last five
training steps, and a held-out loss computed the same way for every run.
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
    # hidden, intermediate, layers, heads, vocab: Llama shapes. The vocabulary is the model's (Llama's
    # 32000); the tokenizer trained on the fly uses its first few hundred ids, as in a padded vocabulary.
    "20m": (256, 688, 8, 8, 32000),
    "1b": (2048, 5632, 22, 32, 32000),
    # The shape of earlier runs: hidden 512, 6 layers, vocabulary as small as the tokenizer (~670).
    "20m-smallvocab": (512, 1376, 6, 8, 0),
}
WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "red",
    "green", "blue", "cyan", "magenta", "yellow", "black", "white",
)  # fmt: skip


SYSTEM = "You are a helpful assistant. Answer briefly and correctly."
COLOURS = ("red", "green", "blue", "cyan", "magenta", "yellow", "black", "white")


def _words(rng: random.Random, low: int, high: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(rng.randint(low, high))]


def _chat(rng: random.Random, i: int) -> list[dict[str, str]]:
    """One SFT conversation of a mix of tasks whose answers follow from the prompt: short questions
    with long answers, long passages with short answers, and balanced transformations."""
    kind = rng.choice(("write", "extract", "sort", "reverse", "count"))
    if kind == "write":  # short prompt, long answer (fixed per key: memorisable)
        key = rng.randrange(64)
        user, answer = f"Write passage {key}.", " ".join(_words(random.Random(key), 60, 160))
    elif kind == "extract":  # long passage, short answer
        passage = _words(rng, 60, 220)
        user = "Read this and list the colours in order:\n" + " ".join(passage)
        answer = " ".join(w for w in passage if w in COLOURS) or "none"
    elif kind == "sort":
        items = _words(rng, 5, 40)
        user, answer = "Sort these words: " + " ".join(items), " ".join(sorted(items))
    elif kind == "reverse":
        items = _words(rng, 10, 60)
        user, answer = "Repeat in reverse order: " + " ".join(items), " ".join(reversed(items))
    else:
        items = _words(rng, 10, 80)
        user, answer = f"How many words are in: {' '.join(items)}?", f"There are {len(items)} words."
    turns = [{"role": "system", "content": SYSTEM}] if i % 2 == 0 else []
    return [*turns, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def make_dataset(path: Path, n: int, seed: int = 0) -> None:
    """A mixed SFT set (see ``_chat``), in openai_chat_jsonl."""
    rng = random.Random(seed)
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"messages": _chat(rng, i)}) + "\n")


def build(work: Path, size: str, steps: int, batch: int, seq: int, lr: float) -> tuple[Any, Path]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from kubetune.crd.runconfig import TrainRunConfig
    from kubetune.testing.tiny import make_tiny_causal_lm

    hidden, inter, layers, heads, vocab = SIZES[size]
    model_dir = make_tiny_causal_lm(
        work / "model",
        vocab_size=vocab or 4096,
        hidden_size=hidden,
        intermediate_size=inter,
        num_layers=layers,
        num_heads=heads,
        max_position_embeddings=2048,
        corpus=WORDS,
    )
    model_config = AutoConfig.from_pretrained(model_dir)
    if vocab and model_config.vocab_size != vocab:  # the model's vocabulary, not the tokenizer's
        model_config.vocab_size = vocab
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(model_config).save_pretrained(model_dir)  # type: ignore[no-untyped-call]
    make_dataset(work / "train.jsonl", 512)
    make_dataset(work / "heldout.jsonl", 64, seed=1)
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
    """Non-padding tokens of every training forward pass, counted the same way for every run: on the
    decoder body, which every path runs (the model's own forward and the supervised loss)."""
    from kubetune.train.lm_loss import causal_lm_of

    seen = {"n": 0}

    def hook(_module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if not model.training:
            return
        if kwargs.get("attention_mask") is not None:
            seen["n"] += int(kwargs["attention_mask"].sum())
        else:  # packed rows carry no 2D mask: count the non-padding tokens
            seen["n"] += int((kwargs["input_ids"] != pad_id).sum())

    causal_lm_of(model).get_decoder().register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def heldout_loss(model: Any, features: list[dict[str, Any]], pad_id: int) -> float:
    """Token-weighted loss on the held-out set: the model's own forward on padded batches, for every run."""
    import torch

    from kubetune.train import data

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(features), 8):
            batch = data.collate(features[start : start + 8], pad_id)
            batch = {k: v.to(next(model.parameters()).device) for k, v in batch.items()}
            n = int((batch["labels"][:, 1:] != -100).sum())
            total += float(model(**batch, use_cache=False).loss) * n
            count += n
    return total / max(count, 1)


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


def _prepared(config: Any, model_dir: Path) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    import torch

    from kubetune.formats import read_records
    from kubetune.train import data, modeling
    from kubetune.train.runner import prepare_features

    torch.manual_seed(config.hyperparameters.seed)
    loaded = modeling.load(config, model_dir)
    if torch.cuda.is_available():
        loaded.model.to("cuda")
    train, _ = prepare_features(config, loaded, data.load_splits(config.dataset, 1))
    heldout = data.encode_chats(
        read_records(model_dir.parent / "heldout.jsonl", config.dataset.format),
        config.dataset,
        loaded.processor,
        max_length=config.hyperparameters.max_seq_length,
        train_on_inputs=False,
    )
    return loaded, train, heldout


def supervised_share(features: list[dict[str, Any]]) -> float:
    """Share of the tokens that carry a label (the assistant's): what the prompt does not cost in the head."""
    labelled = sum(sum(1 for x in f["labels"][1:] if x != -100) for f in features)
    return labelled / sum(len(f["input_ids"]) for f in features)


def run_kubetune(config: Any, model_dir: Path) -> dict[str, Any]:
    from kubetune.train.loop import Loop
    from kubetune.train.runner import make_collate

    loaded, train, heldout = _prepared(config, model_dir)
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
        collate=make_collate(config, loaded),
        causal=True,
        output=Path(config.output),
        notify=notify,
    )
    loop.run()
    return {
        **clock.result(),
        "losses": losses,
        "heldout_loss": heldout_loss(loop.model, heldout, loaded.processor.pad_token_id),
        "params": _params(loaded.model),
        "supervised_share": supervised_share(train),
    }


def run_hf_trainer(config: Any, model_dir: Path) -> dict[str, Any]:
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from kubetune.train import data

    loaded, train, heldout = _prepared(config, model_dir)
    hp = config.hyperparameters
    tokens = count_tokens(loaded.model, loaded.processor.pad_token_id)
    losses: list[float] = []
    clock = StepClock(tokens)
    collate = partial(data.collate, pad_id=loaded.processor.pad_token_id)

    class Clock(TrainerCallback):
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
    return {
        **clock.result(),
        "losses": losses,
        "heldout_loss": heldout_loss(trainer.model, heldout, loaded.processor.pad_token_id),
        "params": _params(loaded.model),
    }


def _with(config: Any, **hp: Any) -> Any:
    """The run config with some hyperparameters replaced."""
    return config.model_copy(update={"hyperparameters": config.hyperparameters.model_copy(update=hp)})


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
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--packing", action="store_true", help="also time kubetune with packing")
    parser.add_argument("--no-ablation", action="store_true", help="skip the padded, full-logits kubetune run")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats per loop; medians reported")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="GPU dense bf16 peak, for MFU")
    parser.add_argument("--out", type=Path, default=Path("bench/trainer/results.json"))
    args = parser.parse_args()
    import torch

    runners = {"baseline_hf_trainer": run_hf_trainer, "kubetune": run_kubetune}
    with tempfile.TemporaryDirectory() as tmp:
        config, model_dir = build(Path(tmp), args.size, args.steps, args.batch, args.seq, args.lr)
        configs = {"baseline_hf_trainer": config, "kubetune": config}
        if not args.no_ablation:
            runners["kubetune_padded_full_logits"] = run_kubetune
            configs["kubetune_padded_full_logits"] = _with(
                config, extra={"padding_free": False, "supervised_loss": False}
            )
        if args.packing:
            runners["kubetune_packed"] = run_kubetune
            configs["kubetune_packed"] = _with(config, packing=True)
        warm = _with(config, max_steps=2)
        run_kubetune(warm, model_dir)  # first-run costs (allocator, kernel selection) paid by nobody measured
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in runners}
        for repeat in range(args.repeats):
            names = list(runners) if repeat % 2 == 0 else list(reversed(runners))  # alternate the order
            for name in names:
                samples[name].append(runners[name](configs[name], model_dir))
    base_tps = statistics.median(r["tokens_per_second"] for r in samples["baseline_hf_trainer"])
    base_loss = statistics.median(_final(r["losses"]) for r in samples["baseline_hf_trainer"])
    base_heldout = statistics.median(r["heldout_loss"] for r in samples["baseline_hf_trainer"])
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
        "supervised_share": round(samples["kubetune"][0]["supervised_share"], 3),
        "tokens": "real (non-padding) input tokens of every training forward pass",
        "runs": {},
    }
    for name, runs in samples.items():
        tps = statistics.median(r["tokens_per_second"] for r in runs)
        loss = statistics.median(_final(r["losses"]) for r in runs)
        heldout = statistics.median(r["heldout_loss"] for r in runs)
        entry = {
            "tokens_per_second_median": round(tps, 1),
            "tokens_per_second_all": [round(r["tokens_per_second"], 1) for r in runs],
            "tokens_per_second_total_all": [round(r["tokens_per_second_total"], 1) for r in runs],
            "final_loss_median": round(loss, 4),
            "first_loss": round(runs[0]["losses"][0], 4),
            "speedup_vs_baseline": round(tps / base_tps, 3),
            "final_loss_vs_baseline": round(loss / base_loss, 4),
            "heldout_loss_median": round(heldout, 4),
            "heldout_loss_all": [round(r["heldout_loss"], 4) for r in runs],
            "heldout_loss_vs_baseline": round(heldout / base_heldout, 4),
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

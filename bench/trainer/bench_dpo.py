"""kubetune's DPO loop versus TRL's DPOTrainer: same model, LoRA, pairs and hyperparameters.

Run (CPU; a few minutes on 2 cores)::

    HF_HUB_OFFLINE=1 flock /tmp/kt/heavy.lock .venv/bin/python bench/trainer/bench_dpo.py \\
        --steps 12 --batch 4 --repeats 2 --out bench/trainer/results-dpo-cpu.json

On a GPU add ``--device cuda`` (bf16 autocast on both sides), and ``--size 1b`` for a ~1B Llama shape.

Both sides train the same LoRA (r=16, every linear layer, same seed, so the same initial adapter) on
the same preference pairs for the same steps, one pass over the data (steps x batch pairs), with
AdamW, a linear schedule, beta 0.1 and the sigmoid loss. The pairs look like DPO data usually does:
a long prompt (a passage and a question about it), short answers. TRL runs with its defaults
(reference log-probs from the model with the adapter disabled at every step, padded batches) except
two that would make it slower or change its numerics for reasons unrelated to DPO: gradient
checkpointing (on by default in DPOConfig; ``--trl-gradient-checkpointing`` keeps it) and bf16 (on
by default; here only with ``--device cuda``, where kubetune autocasts to bf16 too); kubetune
as kubetune-train does (reference scored once before the first step, chosen and rejected packed into
rows, log-probs only at answer positions: docs/trainer.md). Time is the whole ``train()`` /
``DpoLoop.run()`` call, reference scoring included. Tokens are the pairs' real tokens (prompt and
answer, both sides) as kubetune tokenizes them, the same count for both, so the ratio of tokens/s is
the ratio of times. "Equal loss": the mean of the last training losses and the DPO loss on held-out
pairs, computed the same way (kubetune's evaluation, reference = adapter disabled) for both models.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_lora import SIZES, WORDS  # the same model shapes and vocabulary as the SFT benchmark

BETA = 0.1
LORA: dict[str, Any] = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}


def make_pairs(n: int, seed: int, passage: int) -> list[dict[str, Any]]:
    """Conversational prompt/chosen/rejected rows: a passage, a question about it, a right and a wrong answer."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(passage // 2, passage))]
        k = rng.randrange(len(words))
        wrong = rng.choice([w for w in WORDS if w != words[k]])
        prompt = f"{' '.join(words)}\n\nWhich word is at position {k + 1}?"
        rows.append({
            "prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": f"Position {k + 1} holds {words[k]}."}],
            "rejected": [{"role": "assistant", "content": f"It is {wrong}, I think, but I did not count."}],
        })
    return rows


def build_model(work: Path, size: str) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from kubetune.testing.tiny import make_tiny_causal_lm

    hidden, inter, layers, heads, vocab = SIZES[size]
    model_dir = make_tiny_causal_lm(work / "model", vocab_size=vocab or 4096, hidden_size=hidden,
                                    intermediate_size=inter, num_layers=layers, num_heads=heads,
                                    max_position_embeddings=4096, corpus=WORDS)
    config = AutoConfig.from_pretrained(model_dir)
    if vocab and config.vocab_size != vocab:  # the model's vocabulary (Llama's), not the tokenizer's few hundred
        config.vocab_size = vocab
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(config).save_pretrained(model_dir)  # type: ignore[no-untyped-call]
    return model_dir


def _base(model_dir: Path, device: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)


def _lora(model: Any) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)  # the same initial adapter on both sides
    return get_peft_model(model, LoraConfig(**LORA))  # type: ignore[arg-type]


def _config(work: Path, model_dir: Path, args: argparse.Namespace) -> Any:
    from kubetune.crd.runconfig import TrainRunConfig

    return TrainRunConfig.model_validate({
        "baseModel": str(model_dir), "output": str(work / "kubetune-out"), "resume": "none", "objective": "dpo",
        "dataset": {"uri": str(work / "train.jsonl"), "format": "preference"},
        "hyperparameters": {"learningRate": args.lr, "maxSteps": args.steps, "batchSize": args.batch,
                            "maxSeqLength": args.seq, "beta": BETA, "loraDropout": 0.0, "seed": 1},
    })


def encoded(config: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> list[Any]:
    from kubetune.formats import iter_records
    from kubetune.train.dpo.setup import features

    records = list(iter_records((json.dumps(r) for r in rows), "preference"))
    return features(config, tokenizer, records, [])[0]


def heldout(model: Any, pairs: list[Any], config: Any, device: str) -> float:
    """DPO loss on held-out pairs against the base (adapter disabled), the same way for both models."""
    import torch

    from kubetune.train.dpo.loop import DpoLoop

    loop = DpoLoop(model=model, train_pairs=[], eval_pairs=pairs, hp=config.hyperparameters,
                   output=Path(tempfile.mkdtemp()), notify=lambda *_: None, device=torch.device(device))
    return loop.evaluate()["eval_loss"]


def run_kubetune(config: Any, model_dir: Path, tokenizer: Any, train: list[Any], device: str) -> dict[str, Any]:
    import torch

    from kubetune.train.dpo.loop import DpoLoop
    from kubetune.train.modeling import supports_packed_rows

    model = _lora(_base(model_dir, device))
    losses: list[float] = []

    def notify(kind: str, record: dict[str, Any]) -> None:
        if kind == "step":
            losses.append(record["loss"])

    loop = DpoLoop(model=model, train_pairs=train, eval_pairs=[], hp=config.hyperparameters,
                   output=Path(tempfile.mkdtemp()), notify=notify, pad_id=tokenizer.pad_token_id or 0,
                   packed=supports_packed_rows(model), device=torch.device(device))
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    loop.run()
    _sync(device)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "losses": losses,
            "model": model}


def run_trl(config: Any, model_dir: Path, tokenizer: Any, rows: list[dict[str, Any]], device: str,
            gradient_checkpointing: bool = False) -> dict[str, Any]:
    import datasets
    import trl
    from peft import LoraConfig
    from transformers import TrainerCallback

    hp = config.hyperparameters
    losses: list[float] = []

    class Losses(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    args = trl.DPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=hp.batch_size,
                     learning_rate=hp.learning_rate, max_steps=hp.max_steps, lr_scheduler_type="linear",
                     warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, beta=BETA, loss_type=["sigmoid"],
                     max_length=2 * hp.max_seq_length, logging_steps=1, save_strategy="no", report_to=[],
                     seed=1, data_seed=1, use_cpu=device == "cpu", bf16=device == "cuda",
                     dataloader_num_workers=0, gradient_checkpointing=gradient_checkpointing)
    import torch

    torch.manual_seed(1)
    trainer = trl.DPOTrainer(model=_base(model_dir, device), args=args,
                             train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer,
                             peft_config=LoraConfig(**LORA), callbacks=[Losses()])
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    _sync(device)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "losses": losses,
            "model": trainer.model}


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _tail(losses: list[float], n: int = 4) -> float:
    return statistics.fmean(losses[-n:]) if losses else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="20m")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4, help="pairs per step")
    parser.add_argument("--seq", type=int, default=512, help="maxSeqLength (tokens per answer sequence)")
    parser.add_argument("--passage", type=int, default=160, help="words in the longest prompt passage")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats per side; medians reported")
    parser.add_argument("--out", type=Path, default=Path("bench/trainer/results-dpo.json"))
    parser.add_argument("--trl-gradient-checkpointing", action="store_true",
                        help="TRL's own default (recomputes activations; kubetune does not): off unless given")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = build_model(work, args.size)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        config = _config(work, model_dir, args)
        rows = make_pairs(args.steps * args.batch, seed=0, passage=args.passage)
        held = encoded(config, tokenizer, make_pairs(32, seed=1, passage=args.passage))
        train = encoded(config, tokenizer, rows)
        tokens = sum(len(p["chosen_ids"]) + len(p["rejected_ids"]) for p in train)
        answer = sum(sum(t != -100 for t in p["chosen_labels"]) + sum(t != -100 for t in p["rejected_labels"])
                     for p in train)
        runs: dict[str, list[dict[str, Any]]] = {"kubetune": [], "trl": []}
        for repeat in range(args.repeats):
            order = ("kubetune", "trl") if repeat % 2 == 0 else ("trl", "kubetune")
            for side in order:
                if side == "kubetune":
                    out = run_kubetune(config, model_dir, tokenizer, train, args.device)
                else:
                    out = run_trl(config, model_dir, tokenizer, rows, args.device, args.trl_gradient_checkpointing)
                out["heldout_loss"] = heldout(out.pop("model"), held, config, args.device)
                out["tokens_per_second"] = tokens / out["seconds"]
                # CPU time of the process: on a shared machine, less sensitive to other work than wall time.
                out["tokens_per_cpu_second"] = tokens / out["cpu_seconds"]
                out["final_loss"] = _tail(out["losses"])
                runs[side].append(out)
                print(f"{side}: {out['seconds']:.1f} s ({out['cpu_seconds']:.1f} s CPU), "
                      f"{out['tokens_per_second']:.0f} tokens/s ({out['tokens_per_cpu_second']:.0f} per CPU s), "
                      f"final loss {out['final_loss']:.4f}, held-out loss {out['heldout_loss']:.4f}", flush=True)
    summary = {side: {key: statistics.median(r[key] for r in results)
                      for key in ("seconds", "cpu_seconds", "tokens_per_second", "tokens_per_cpu_second",
                                  "final_loss", "heldout_loss")}
               for side, results in runs.items()}
    ratio = summary["kubetune"]["tokens_per_second"] / summary["trl"]["tokens_per_second"]
    cpu_ratio = summary["kubetune"]["tokens_per_cpu_second"] / summary["trl"]["tokens_per_cpu_second"]
    result = {"device": args.device, "size": args.size, "steps": args.steps, "pairs_per_step": args.batch,
              "trl_gradient_checkpointing": args.trl_gradient_checkpointing,
              "tokens": tokens, "answer_token_share": round(answer / tokens, 3), "summary": summary,
              "ratio": round(ratio, 3), "cpu_time_ratio": round(cpu_ratio, 3), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"kubetune / TRL tokens/s: {ratio:.2f}x, per CPU second {cpu_ratio:.2f}x "
          f"(final loss {summary['kubetune']['final_loss']:.4f} vs "
          f"{summary['trl']['final_loss']:.4f}, held-out {summary['kubetune']['heldout_loss']:.4f} vs "
          f"{summary['trl']['heldout_loss']:.4f})")


if __name__ == "__main__":
    main()

"""bf16 autocast and torch.compile on a CPU: one fixed-shape training step of the benchmark's LoRA model.

Run (each variant in its own process, so that compilation caches do not carry over)::

    for m in fp32 bf16 compile; do
        flock /tmp/kt/heavy.lock .venv/bin/python bench/trainer/bench_cpu_options.py $m
    done

The model is bench_lora.py's "20m" shape (Llama, hidden 256, 8 layers, vocabulary 32000) with LoRA r=16
on all linear layers; a step is the supervised loss (kubetune.train.lm_loss) forward and backward on 2
rows of 512 tokens whose first 300 positions carry no label. Prints the first step (compilation
included) and the median of the next five.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("fp32", "bf16", "compile"))
    args = parser.parse_args()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from kubetune.train.lm_loss import supervised_loss

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        tie_word_embeddings=False,
    )
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear")
    model = get_peft_model(LlamaForCausalLM(config), lora).train()
    ids = torch.randint(0, 32000, (2, 512))
    labels = ids.clone()
    labels[:, :300] = -100
    loss_module = supervised_loss(model)
    forward = torch.compile(loss_module) if args.mode == "compile" else loss_module
    times = []
    for _ in range(6):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.mode == "bf16"):
            loss = forward(input_ids=ids, labels=labels)
        loss.backward()
        times.append(time.perf_counter() - start)
    step = statistics.median(times[1:])
    print(f"{args.mode}: first step {times[0]:.2f} s, then {step:.3f} s per step, {ids.numel() / step:.0f} tokens/s")


if __name__ == "__main__":
    main()

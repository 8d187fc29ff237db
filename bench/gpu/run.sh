#!/usr/bin/env bash
# On a lent GPU machine (the `device` tool's `run`), from the repository root, carrying .whl
# (bench/gpu/wheels.sh makes it here first):
#
#   run(command="bash bench/gpu/run.sh", carry=[".whl"], timeout_s=580)
#
# Runs the GPU benchmarks that need nothing but torch and kubetune, one after the other, each with
# a deadline of its own so that one slow step cannot cost the others; logs and JSON results go to
# $OUT (the tool brings them back). Then copy the JSON files into bench/ and cite them in
# docs/benchmarks.md. vLLM's own CUDA benchmark (bench/inference/bench_vllm.py --device cuda) is not
# here: its wheels do not fit what a device call carries (docs/benchmarks.md says why).
set -uo pipefail
OUT=${OUT:-/tmp/kt-gpu-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
ROOT=$PWD
export PYTHONPATH=/tmp/site:$ROOT/operator:$ROOT/api:$ROOT/trainer-image:$ROOT/hack:$ROOT/client
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c \
  "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"; } \
  2>&1 | tee "$OUT/machine.txt"

step() {  # step NAME SECONDS COMMAND...: run one benchmark under a deadline, log to $OUT/NAME.log
  local name=$1 seconds=$2
  shift 2
  echo "== $name (at most ${seconds}s)"
  timeout --signal=TERM --kill-after=10 "$seconds" "$@" >"$OUT/$name.log" 2>&1
  echo "== $name: exit $?"
  tail -n 25 "$OUT/$name.log"
}

# The 1B Llama shape, bf16: kubetune's loop against Hugging Face's Trainer, tokens/s and MFU.
step lora-1b 300 python3 bench/trainer/bench_lora.py --size 1b --steps 20 --repeats 2 --no-ablation \
  --out "$OUT/results-lora-1b-cuda.json"
# Dynamic batching on the GPU, and generation against a plain generate() loop.
step inference 200 python3 bench/inference/run.py --device cuda --requests-per-client 32 --rounds 3 \
  --out "$OUT/results-inference-cuda.json"
ls -l "$OUT"

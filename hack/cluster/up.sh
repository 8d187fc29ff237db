#!/usr/bin/env bash
# Start the real local cluster in the background: the local control plane, one worker node
# (kubelet + containerd in a network namespace this script creates), kube-proxy, CoreDNS and
# hostPath volumes. Waits until the node is Ready and DNS answers, then prints where things are.
#
#   hack/cluster/up.sh [--image docker-save.tar ...]   # images to import into the node
#   KUBECONFIG=$(jq -r .kubeconfig ~/.cache/kubetune/run/cluster/cluster.json) kubectl get nodes
#   hack/cluster/down.sh
#
# Needs root (network namespaces, containerd, kubelet). State, logs and the supervisor's pid
# live in $KUBETUNE_CLUSTER_DIR (default ~/.cache/kubetune/run/cluster).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
state="${KUBETUNE_CLUSTER_DIR:-$cache_root/run/cluster}"
python="${PYTHON:-$repo/.venv/bin/python}"

[[ $(id -u) == 0 ]] || { echo "up.sh: needs root (network namespaces, kubelet, containerd)" >&2; exit 1; }
[[ -x $python ]] || { echo "up.sh: no $python (run make setup)" >&2; exit 1; }
if [[ -f $state/supervisor.pid ]] && kill -0 "$(cat "$state/supervisor.pid")" 2>/dev/null; then
  echo "up.sh: already running (pid $(cat "$state/supervisor.pid")); hack/cluster/down.sh stops it" >&2
  exit 1
fi

images=()
keda=()
while (($#)); do
  case $1 in
    --image) images+=(--image "$(realpath "$2")"); shift 2 ;;
    # KEDA's images on the node and its manifests in <state>/addons/keda.json, not installed (docs/real-cluster.md)
    --keda) keda=(--keda); shift ;;
    *) echo "up.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Build (or find cached) binaries first, in the foreground, so their output is seen.
"$repo/hack/controlplane/build.sh" >/dev/null
export KUBETUNE_CLUSTER_BIN; KUBETUNE_CLUSTER_BIN="$("$here/build.sh")"
if ((${#keda[@]})); then export KUBETUNE_KEDA_DIR; KUBETUNE_KEDA_DIR="$("$repo/hack/keda/build.sh")"; fi

mkdir -p "$state"
rm -f "$state/cluster.json"
start=$(date +%s)
nohup "$python" -m kubetune.cluster up --state-dir "$state" ${images[@]+"${images[@]}"} ${keda[@]+"${keda[@]}"} \
  >"$state/supervisor.log" 2>&1 &
pid=$!
echo "$pid" >"$state/supervisor.pid"
# The supervisor writes cluster.json once the node is Ready and CoreDNS is available.
until [[ -f $state/cluster.json ]]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "up.sh: the cluster failed to start; $state/supervisor.log:" >&2
    tail -40 "$state/supervisor.log" >&2
    rm -f "$state/supervisor.pid"
    exit 1
  fi
  sleep 1
done
echo "cluster up in $(( $(date +%s) - start )) s" >&2
cat "$state/cluster.json"

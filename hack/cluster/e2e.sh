#!/usr/bin/env bash
# `make e2e-cluster`: the train-to-serve e2e suite on the real local cluster (docs/real-cluster.md),
# the operator, api, trainer and server each in its own image, in real containers:
#
#   1. the dev images (kubetune/{operator,api,runtime}:dev): built by hack/images/build.sh unless
#      SKIP_BUILD=1, then `docker save`d to $WORK_DIR
#   2. hack/cluster/up.sh with those archives imported into the node's containerd
#   3. the artifact store: a host directory (the node is this host) behind hack/kind/storage.yaml
#   4. helm upgrade --install with hack/kind/values.yaml (the kind values: the same images, CPU Trainers)
#   5. kubectl port-forward of the api to 127.0.0.1:$API_PORT, then tests/e2e/test_train_to_serve_cluster.py
#   6. hack/cluster/down.sh, unless KEEP_CLUSTER=1
#
# Settings (environment): SKIP_BUILD (0), KEEP_CLUSTER (0), WORK_DIR (out/cluster), API_PORT (18081),
# PYTEST_ARGS. Needs root (see up.sh) and Docker for the images (hack/images/dockerd.sh starts one).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
WORK_DIR="${WORK_DIR:-$repo/out/cluster}"
API_PORT="${API_PORT:-18081}"
PYTEST_ARGS="${PYTEST_ARGS:-}"
NAMESPACE=kubetune-system
RELEASE=kubetune
IMAGES=(kubetune/operator:dev kubetune/api:dev kubetune/runtime:dev)
ARTIFACTS=/var/local/kubetune-artifacts  # hack/kind/storage.yaml's hostPath
RUNTIME_UID=10001

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e-cluster: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  [[ -n "${PORT_FORWARD_PID:-}" ]] && kill "$PORT_FORWARD_PID" 2>/dev/null || true
  if [[ $status -ne 0 && -n "${KUBECTL:-}" ]]; then
    log "failed; pods and events"
    $KUBECTL get pods,jobs,trainings,inferenceservices,datasets -A 2>/dev/null || true
    $KUBECTL get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -n 30 || true
  fi
  if [[ "${STARTED:-0}" == 1 && "$KEEP_CLUSTER" != 1 ]]; then
    "$here/down.sh" || true
  fi
  # A dockerd this run started goes with it (stop acts only on a daemon the project's scripts started).
  if [[ "${DOCKERD_WAS_RUNNING:-1}" == 0 ]]; then
    "$repo/hack/images/dockerd.sh" stop || true
  fi
  exit "$status"
}
trap cleanup EXIT

mkdir -p "$WORK_DIR"
t0=$(date +%s)
DOCKERD_WAS_RUNNING=0
if client="$("$repo/hack/images/dockerd.sh" client 2>/dev/null)" && "$client" info >/dev/null 2>&1; then
  DOCKERD_WAS_RUNNING=1
fi
"$repo/hack/images/dockerd.sh" ensure
if [[ "$SKIP_BUILD" != 1 ]]; then
  log "building ${IMAGES[*]} (hack/images/build.sh)"
  KEEP_DOCKERD=1 "$repo/hack/images/build.sh"
fi
docker="$("$repo/hack/images/dockerd.sh" client)"
archives=()
for image in "${IMAGES[@]}"; do
  "$docker" image inspect "$image" >/dev/null 2>&1 || die "image $image is missing (hack/images/build.sh builds it)"
  archive="$WORK_DIR/$(echo "$image" | tr '/:' '__').tar"
  log "docker save $image"
  "$docker" save "$image" -o "$archive"
  archives+=(--image "$archive")
done
t1=$(date +%s)

log "starting the cluster"
STARTED=1
info="$("$here/up.sh" "${archives[@]}")"
# containerd holds the images now; the archives (4.8 GB with the runtime) only cost disk.
rm -f "$WORK_DIR"/*.tar
t2=$(date +%s)
kubeconfig="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["kubeconfig"])' <<<"$info")"
kubectl_bin="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["kubectl"])' <<<"$info")"
KUBECTL="$kubectl_bin --kubeconfig $kubeconfig"

log "artifact store $ARTIFACTS"
mkdir -p "$ARTIFACTS" && chown "$RUNTIME_UID:$RUNTIME_UID" "$ARTIFACTS" && chmod 0775 "$ARTIFACTS"
$KUBECTL apply -f "$repo/hack/kind/storage.yaml"

log "helm upgrade --install $RELEASE"
helm_bin="$("$repo/hack/helm/build.sh" | tail -n 1)/helm"
"$helm_bin" --kubeconfig "$kubeconfig" upgrade --install "$RELEASE" "$repo/charts/kubetune" --namespace "$NAMESPACE" \
  --values "$repo/hack/kind/values.yaml" --wait --timeout 10m
t3=$(date +%s)

log "port-forward svc/$RELEASE-api to 127.0.0.1:$API_PORT"
$KUBECTL -n "$NAMESPACE" port-forward "svc/$RELEASE-api" "$API_PORT:80" >"$WORK_DIR/port-forward.log" 2>&1 &
PORT_FORWARD_PID=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$PORT_FORWARD_PID" 2>/dev/null || die "kubectl port-forward exited: $(cat "$WORK_DIR/port-forward.log")"
  sleep 1
done
curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null || die "the api did not answer /readyz on 127.0.0.1:$API_PORT"

password="$($KUBECTL -n "$NAMESPACE" get secret "$RELEASE-auth" -o jsonpath='{.data.admin-password}' | base64 --decode)"
pytest_args=()
[[ -n "$PYTEST_ARGS" ]] && read -r -a pytest_args <<<"$PYTEST_ARGS"
log "running the e2e suite"
(
  cd "$repo"
  KUBETUNE_E2E_KUBECONFIG="$kubeconfig" \
  KUBETUNE_E2E_API_URL="http://127.0.0.1:$API_PORT" \
  KUBETUNE_E2E_ADMIN_PASSWORD="$password" \
  KUBETUNE_E2E_NAMESPACE="$NAMESPACE" \
  KUBETUNE_E2E_RUNTIME_IMAGE=kubetune/runtime:dev \
  .venv/bin/pytest tests/e2e/test_train_to_serve_cluster.py -v ${pytest_args[@]+"${pytest_args[@]}"}
)
t4=$(date +%s)
echo "e2e-cluster: images $((t1 - t0)) s, cluster up $((t2 - t1)) s, chart $((t3 - t2)) s, tests $((t4 - t3)) s" >&2

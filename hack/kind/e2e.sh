#!/usr/bin/env bash
# `make e2e-kind`: the train-to-serve e2e suite against a kind cluster, for users with Docker.
#
#   1. create the kind cluster $KIND_CLUSTER (or reuse it), kubeconfig in $WORK_DIR/kubeconfig
#   2. build the dev images (make images-dev) and `kind load` them onto the node
#   3. prepare the shared artifact directory on the node and its PersistentVolume (storage.yaml)
#   4. helm upgrade --install the chart with hack/kind/values.yaml and wait for it
#   5. port-forward the api and run tests/e2e/test_train_to_serve_cluster.py against it
#   6. delete the cluster, unless KEEP_CLUSTER=1 (or the cluster existed before)
#
# Settings (environment): KIND_CLUSTER (kubetune-e2e), KIND_NODE_IMAGE (kind's default),
# KEEP_CLUSTER (0), SKIP_BUILD (0: build and load images), WORK_DIR (out/kind),
# API_PORT (18080), HELM (helm on PATH, else built by hack/helm/build.sh), PYTEST_ARGS.
# Needs docker, kind, kubectl and helm (or Go to build helm); docs/quickstart.md has the steps.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIND_DIR="$REPO_ROOT/hack/kind"
KIND_CLUSTER="${KIND_CLUSTER:-kubetune-e2e}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
WORK_DIR="${WORK_DIR:-$REPO_ROOT/out/kind}"
API_PORT="${API_PORT:-18080}"
PYTEST_ARGS="${PYTEST_ARGS:-}"
NAMESPACE=kubetune-system
RELEASE=kubetune
IMAGES=(kubetune/operator:dev kubetune/api:dev kubetune/runtime:dev)
# The node directory behind every namespace's artifact claim (storage.yaml); the runtime uid owns it.
NODE_ARTIFACTS=/var/local/kubetune-artifacts
RUNTIME_UID=10001

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e-kind: %s\n' "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH. $2"
}

find_helm() {
  if [[ -n "${HELM:-}" ]]; then
    [[ -x "$HELM" ]] || die "HELM=$HELM is not an executable"
    printf '%s\n' "$HELM"
  elif command -v helm >/dev/null 2>&1; then
    command -v helm
  elif command -v go >/dev/null 2>&1; then
    printf '%s/helm\n' "$("$REPO_ROOT/hack/helm/build.sh" | tail -n 1)"
  else
    die "helm is not on PATH and Go is not there to build it: install helm 3 (https://helm.sh/docs/intro/install/) or set HELM"
  fi
}

check_tools() {
  need docker "Install Docker (https://docs.docker.com/get-docker/); kind runs its nodes as containers."
  docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer (is it running, may this user use it?)"
  need kind "Install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), e.g. go install sigs.k8s.io/kind@latest."
  need kubectl "Install kubectl (https://kubernetes.io/docs/tasks/tools/)."
  [[ -x "$REPO_ROOT/.venv/bin/pytest" ]] || die "no .venv: run make setup (make e2e-kind does) first"
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"
}

create_cluster() {
  local args=(create cluster --name "$KIND_CLUSTER" --config "$KIND_DIR/cluster.yaml" --kubeconfig "$KUBECONFIG" --wait 180s)
  if [[ -n "$KIND_NODE_IMAGE" ]]; then
    args+=(--image "$KIND_NODE_IMAGE")
  fi
  log "creating kind cluster $KIND_CLUSTER"
  kind "${args[@]}"
}

load_images() {
  if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building ${IMAGES[*]}"
    make -C "$REPO_ROOT" images-dev
  fi
  local image
  for image in "${IMAGES[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image is missing: run make images-dev (or unset SKIP_BUILD)"
  done
  log "loading the images into $KIND_CLUSTER"
  kind load docker-image --name "$KIND_CLUSTER" "${IMAGES[@]}"
}

prepare_storage() {
  local node
  log "artifact store: $NODE_ARTIFACTS on the node, PersistentVolume and claim in $NAMESPACE"
  for node in $(kind get nodes --name "$KIND_CLUSTER"); do
    docker exec "$node" sh -c "mkdir -p '$NODE_ARTIFACTS' && chown $RUNTIME_UID:$RUNTIME_UID '$NODE_ARTIFACTS' && chmod 0775 '$NODE_ARTIFACTS'"
  done
  kubectl apply -f "$KIND_DIR/storage.yaml"
}

install_chart() {
  log "helm upgrade --install $RELEASE"
  "$HELM_BIN" upgrade --install "$RELEASE" "$REPO_ROOT/charts/kubetune" --namespace "$NAMESPACE" \
    --values "$KIND_DIR/values.yaml" --wait --timeout 10m
  local deploy
  for deploy in "$RELEASE-operator" "$RELEASE-api"; do
    if [[ "$CREATED_CLUSTER" == 0 && "$SKIP_BUILD" != 1 ]]; then
      # Same tag, new image: the pods run the old one until they restart.
      kubectl -n "$NAMESPACE" rollout restart "deploy/$deploy"
    fi
    kubectl -n "$NAMESPACE" rollout status "deploy/$deploy" --timeout 5m
  done
}

start_port_forward() {
  log "port-forward svc/$RELEASE-api to 127.0.0.1:$API_PORT"
  kubectl -n "$NAMESPACE" port-forward "svc/$RELEASE-api" "$API_PORT:80" >"$WORK_DIR/port-forward.log" 2>&1 &
  PORT_FORWARD_PID=$!
  local _
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$PORT_FORWARD_PID" 2>/dev/null || die "kubectl port-forward exited: $(cat "$WORK_DIR/port-forward.log")"
    sleep 1
  done
  die "the api did not answer /readyz on 127.0.0.1:$API_PORT within 60 s"
}

cleanup() {
  local status=$?
  if [[ -n "${PORT_FORWARD_PID:-}" ]]; then
    kill "$PORT_FORWARD_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -n "${KUBECONFIG:-}" && -f "${KUBECONFIG:-}" ]]; then
    log "failed; state of $NAMESPACE and the project namespaces (logs: kubectl --kubeconfig $KUBECONFIG ...)"
    kubectl get pods,jobs,trainings,inferenceservices,datasets -A 2>/dev/null | grep -v '^kube-' || true
    kubectl get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -n 30 || true
  fi
  if [[ "$KEEP_CLUSTER" != 1 && "${CREATED_CLUSTER:-0}" == 1 ]]; then
    log "deleting kind cluster $KIND_CLUSTER (KEEP_CLUSTER=1 keeps it)"
    kind delete cluster --name "$KIND_CLUSTER" || true
  elif cluster_exists; then
    log "cluster $KIND_CLUSTER kept; kubeconfig: $KUBECONFIG"
  fi
  exit "$status"
}

main() {
  check_tools
  need curl "Install curl (the script polls the api's /readyz)."
  HELM_BIN="$(find_helm)"
  mkdir -p "$WORK_DIR"
  export KUBECONFIG="$WORK_DIR/kubeconfig"
  CREATED_CLUSTER=0
  trap cleanup EXIT
  if cluster_exists; then
    log "reusing kind cluster $KIND_CLUSTER"
    kind get kubeconfig --name "$KIND_CLUSTER" >"$KUBECONFIG"
  else
    CREATED_CLUSTER=1
    create_cluster
  fi
  load_images
  prepare_storage
  install_chart
  start_port_forward

  local password
  password="$(kubectl -n "$NAMESPACE" get secret "$RELEASE-auth" -o jsonpath='{.data.admin-password}' | base64 --decode)"
  [[ -n "$password" ]] || die "Secret $NAMESPACE/$RELEASE-auth has no admin-password"

  log "running the e2e suite against $KIND_CLUSTER"
  local pytest_args=()
  if [[ -n "$PYTEST_ARGS" ]]; then
    read -r -a pytest_args <<<"$PYTEST_ARGS"
  fi
  (
    cd "$REPO_ROOT"
    KUBETUNE_E2E_KUBECONFIG="$KUBECONFIG" \
    KUBETUNE_E2E_API_URL="http://127.0.0.1:$API_PORT" \
    KUBETUNE_E2E_ADMIN_PASSWORD="$password" \
    KUBETUNE_E2E_NAMESPACE="$NAMESPACE" \
    KUBETUNE_E2E_RUNTIME_IMAGE=kubetune/runtime:dev \
    .venv/bin/pytest tests/e2e/test_train_to_serve_cluster.py -v ${pytest_args[@]+"${pytest_args[@]}"}
  )
}

main "$@"

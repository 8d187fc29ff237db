#!/usr/bin/env bash
# `make e2e-cluster`: the train-to-serve e2e suite on the real local cluster (docs/real-cluster.md),
# the operator, api, trainer and server each in its own image, in real containers:
#
#   1. the dev images (kubetune/{operator,api,runtime}:dev): built by hack/images/build.sh unless SKIP_BUILD=1
#   2. hack/cluster/up.sh, then each image streamed from `docker save` into the node's containerd
#   3. for each storage mode of STORAGE, in order, on the same cluster (default "pvc s3"):
#      a. the artifact store: pvc, a host directory (the node is this host) behind hack/kind/storage.yaml;
#         s3, moto's S3 server in the cluster (hack/cluster/s3/s3-server.yaml, image kubetune/s3-server:dev),
#         port-forwarded to 127.0.0.1:$S3_PORT, its bucket created
#      b. helm upgrade --install with hack/kind/values.yaml (the kind values: the same images, CPU Trainers),
#         plus hack/cluster/s3/values.yaml for s3 (storage.type s3, endpoint, bucket, credentials): the second
#         mode is a `helm upgrade` of the first's release, as a user switching stores would run it
#      c. kubectl port-forward of the api to 127.0.0.1:$API_PORT, then tests/e2e (conftest.py picks the
#         PVC-mode modules, or the S3-mode one with KUBETUNE_E2E_STORAGE=s3)
#   4. hack/cluster/down.sh, unless KEEP_CLUSTER=1
#
# Settings (environment): STORAGE ("pvc s3", or one of them), SKIP_BUILD (0), KEEP_CLUSTER (0),
# WORK_DIR (out/cluster), API_PORT (18081), S3_PORT (18082), PYTEST_ARGS. Needs root (see up.sh) and Docker
# for the images (hack/images/dockerd.sh starts one).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
WORK_DIR="${WORK_DIR:-$repo/out/cluster}"
API_PORT="${API_PORT:-18081}"
PYTEST_ARGS="${PYTEST_ARGS:-}"
STORAGE="${STORAGE:-pvc s3}"
S3_PORT="${S3_PORT:-18082}"
NAMESPACE=kubetune-system
RELEASE=kubetune
IMAGES=(kubetune/operator:dev kubetune/api:dev kubetune/runtime:dev)
BUILD=(operator api runtime)
read -r -a MODES <<<"$STORAGE"
((${#MODES[@]})) || { echo "e2e-cluster: STORAGE names no mode (pvc, s3)" >&2; exit 2; }
for mode in "${MODES[@]}"; do
  case "$mode" in
    pvc) ;;
    s3) IMAGES+=(kubetune/s3-server:dev); BUILD+=(s3-server) ;;
    *) echo "e2e-cluster: STORAGE modes are pvc and s3, not $mode" >&2; exit 2 ;;
  esac
done
S3_VALUES="$here/s3/values.yaml"
ARTIFACTS=/var/local/kubetune-artifacts  # hack/kind/storage.yaml's hostPath
RUNTIME_UID=10001

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e-cluster: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  [[ -n "${PORT_FORWARD_PID:-}" ]] && kill "$PORT_FORWARD_PID" 2>/dev/null || true
  [[ -n "${S3_FORWARD_PID:-}" ]] && kill "$S3_FORWARD_PID" 2>/dev/null || true
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
  KEEP_DOCKERD=1 "$repo/hack/images/build.sh" "${BUILD[@]}"
fi
docker="$("$repo/hack/images/dockerd.sh" client)"
for image in "${IMAGES[@]}"; do
  "$docker" image inspect "$image" >/dev/null 2>&1 || die "image $image is missing (hack/images/build.sh builds it)"
done
t1=$(date +%s)

log "starting the cluster"
STARTED=1
info="$("$here/up.sh" --keda)"
t2=$(date +%s)

# Each image streams from `docker save` into the node's containerd: no archive on disk (4.4 GB for the runtime).
# Docker still stages the export under its data root, and containerd keeps the layers and their snapshots,
# so the runtime needs about three times its size free while it loads.
# manifests/examples/trainer.yaml names the runtime image a release publishes (ghcr.io/kubetune/runtime:<version>):
# the node gets the dev runtime under that name too (the same layers), as an air-gapped cluster would hold it,
# so the examples apply unchanged (tests/e2e/test_examples_cluster.py).
example_image="$(awk '$1 == "image:" {print $2; exit}' "$repo/manifests/examples/trainer.yaml")"
state_dir="${KUBETUNE_CLUSTER_DIR:-${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}/run/cluster}"
for image in "${IMAGES[@]}"; do
  names=("$image")
  if [[ $image == kubetune/runtime:dev && -n $example_image ]]; then
    "$docker" tag "$image" "$example_image"
    names+=("$example_image")
  fi
  size="$("$docker" image inspect -f '{{.Size}}' "$image")"
  free="$(df -B1 --output=avail "$state_dir" | tail -n 1)"
  if ((free < 3 * size)); then
    df -h "$state_dir" /var/lib/docker >&2 || true
    die "loading $image ($((size / 1000000)) MB) needs about $((3 * size / 1000000000)) GB free; $((free / 1000000000)) GB left"
  fi
  log "docker save ${names[*]} | python -m kubetune.cluster load"
  "$docker" save "${names[@]}" | "$repo/.venv/bin/python" -m kubetune.cluster load --state-dir "$state_dir" \
    || die "loading ${names[*]} into the node failed"
  # Only the node needs the release name; left on Docker's side it would keep the previous runtime alive after the
  # next build re-tags kubetune/runtime:dev (hack/images/build.sh drops a replaced image once nothing names it).
  if ((${#names[@]} > 1)); then "$docker" rmi "$example_image" >/dev/null || true; fi
done
t3=$(date +%s)
kubeconfig="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["kubeconfig"])' <<<"$info")"
kubectl_bin="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["kubectl"])' <<<"$info")"
keda_manifests="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keda"])' <<<"$info")"
KUBECTL="$kubectl_bin --kubeconfig $kubeconfig"

# A port-forward to 127.0.0.1:$2 of Service $1 (namespace/name:port); its pid in FORWARD_PID once $3 (a URL) answers.
# kubectl port-forward ends at the first error on any one of its connections ("lost connection to pod" after a
# reset on the pod's side), which would fail every later request of the suite: it runs in a loop that starts it
# again, and the loop's pid is the one to kill.
forward() {
  local svc="$1" port="$2" url="$3" log_file="$WORK_DIR/port-forward-${2}.log"
  local ns="${svc%%/*}" name="${svc#*/}"
  : >"$log_file"
  local script_pid=$$  # the loop ends with this script, even one killed without its traps
  (
    child=
    trap '[[ -n $child ]] && kill "$child" 2>/dev/null; exit 0' TERM INT
    while kill -0 "$script_pid" 2>/dev/null; do
      $KUBECTL -n "$ns" port-forward "svc/${name%%:*}" "$port:${name##*:}" >>"$log_file" 2>&1 &
      child=$!
      wait "$child" || true
      echo "port-forward of $svc ended; starting it again" >>"$log_file"
      sleep 1
    done
  ) &
  FORWARD_PID=$!
  for _ in $(seq 1 60); do
    curl -sS -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$FORWARD_PID" 2>/dev/null || die "kubectl port-forward $svc exited: $(cat "$log_file")"
    sleep 1
  done
  die "$url did not answer through the port-forward of $svc"
}

helm_bin="$("$repo/hack/helm/build.sh" | tail -n 1)/helm"
pytest_args=()
[[ -n "$PYTEST_ARGS" ]] && read -r -a pytest_args <<<"$PYTEST_ARGS"
timings=()

run_mode() {
  local mode="$1" m0 m1 m2 leaving
  # No admission webhook here: this cluster's API server runs on the host, where Service addresses are not
  # routed (only the node's pod subnet is, for aggregated APIs: hack/kubetune/cluster/netns.py), so its calls
  # would leave by the default route and wait out the timeout (failurePolicy Ignore). The webhook is tested on the control plane instead
  # (tests/integration/operator/test_admission_webhook.py).
  local values=(--values "$repo/hack/kind/values.yaml" --set admissionWebhook.enabled=false)
  m0=$(date +%s)
  if [[ $mode == pvc ]]; then
    log "artifact store $ARTIFACTS"
    mkdir -p "$ARTIFACTS" && chown "$RUNTIME_UID:$RUNTIME_UID" "$ARTIFACTS" && chmod 0775 "$ARTIFACTS"
    $KUBECTL apply -f "$repo/hack/kind/storage.yaml"
  else
    log "artifact store: moto's S3 server in the cluster (hack/cluster/s3)"
    $KUBECTL apply -f "$here/s3/s3-server.yaml"
    $KUBECTL -n kubetune-s3 rollout status deployment/s3 --timeout 5m
    forward kubetune-s3/s3:5000 "$S3_PORT" "http://127.0.0.1:$S3_PORT/"
    S3_FORWARD_PID=$FORWARD_PID
    # The bucket of hack/cluster/s3/values.yaml, made through the port-forward (moto accepts any key).
    "$repo/.venv/bin/python" - "$S3_VALUES" "http://127.0.0.1:$S3_PORT" <<'PY'
import sys, yaml, botocore.session
s3 = yaml.safe_load(open(sys.argv[1]))["storage"]["s3"]
client = botocore.session.get_session().create_client(
    "s3", endpoint_url=sys.argv[2], region_name=s3["region"],
    aws_access_key_id=s3["accessKeyId"], aws_secret_access_key=s3["secretAccessKey"])
client.create_bucket(Bucket=s3["bucket"])
print(f"bucket {s3['bucket']} created", file=sys.stderr)
PY
    values+=(--values "$S3_VALUES")
  fi

  log "helm upgrade --install $RELEASE (storage $mode)"
  "$helm_bin" --kubeconfig "$kubeconfig" upgrade --install "$RELEASE" "$repo/charts/kubetune" --namespace "$NAMESPACE" \
    --create-namespace "${values[@]}" --wait --timeout 10m
  # After a switch of stores the api pods of the previous release go: wait until they are gone, so that the
  # port-forward reaches a pod of this one.
  $KUBECTL -n "$NAMESPACE" rollout status "deployment/$RELEASE-api" --timeout 5m
  leaving="$($KUBECTL -n "$NAMESPACE" get pods -l app.kubernetes.io/component=api \
    -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}pod/{.metadata.name} {end}')"
  # shellcheck disable=SC2086  # a list of pod/<name> words
  [[ -z $leaving ]] || $KUBECTL -n "$NAMESPACE" wait --for=delete $leaving --timeout 5m
  m1=$(date +%s)

  [[ -n "${PORT_FORWARD_PID:-}" ]] && { kill "$PORT_FORWARD_PID" 2>/dev/null || true; }
  log "port-forward svc/$RELEASE-api to 127.0.0.1:$API_PORT"
  forward "$NAMESPACE/$RELEASE-api:80" "$API_PORT" "http://127.0.0.1:$API_PORT/readyz"
  PORT_FORWARD_PID=$FORWARD_PID
  curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null || die "the api did not answer /readyz on 127.0.0.1:$API_PORT"

  local password
  password="$($KUBECTL -n "$NAMESPACE" get secret "$RELEASE-auth" -o jsonpath='{.data.admin-password}' | base64 --decode)"
  log "running the e2e suite (storage $mode)"
  (
    cd "$repo"
    if [[ $mode == s3 ]]; then export KUBETUNE_E2E_STORAGE=s3 KUBETUNE_E2E_S3_URL="http://127.0.0.1:$S3_PORT"; fi
    KUBETUNE_E2E_KUBECONFIG="$kubeconfig" \
    KUBETUNE_E2E_KUBECTL="$kubectl_bin" \
    KUBETUNE_E2E_KEDA_MANIFESTS="$keda_manifests" \
    KUBETUNE_E2E_API_URL="http://127.0.0.1:$API_PORT" \
    KUBETUNE_E2E_ADMIN_PASSWORD="$password" \
    KUBETUNE_E2E_NAMESPACE="$NAMESPACE" \
    KUBETUNE_E2E_RUNTIME_IMAGE=kubetune/runtime:dev \
    .venv/bin/pytest tests/e2e -v ${pytest_args[@]+"${pytest_args[@]}"}
  )
  m2=$(date +%s)
  timings+=("$mode: store and chart $((m1 - m0)) s, tests $((m2 - m1)) s")
}

for mode in "${MODES[@]}"; do run_mode "$mode"; done
t4=$(date +%s)
echo "e2e-cluster ($STORAGE): images $((t1 - t0)) s, cluster up $((t2 - t1)) s, images loaded $((t3 - t2)) s, modes $((t4 - t3)) s (${timings[*]})" >&2

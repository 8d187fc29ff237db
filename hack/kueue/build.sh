#!/usr/bin/env bash
# Build the Kueue manager (sigs.k8s.io/kueue/cmd/kueue) from the pinned module in go.mod
# into a cache directory outside the repository, keyed by version, and copy the CRDs
# of the same module version next to it. Does nothing when both are already there.
# Prints the directory on stdout: <dir>/kueue, <dir>/crds/*.yaml and <dir>/webhooks.yaml.
#
# One source line is patched at build time: without Kueue's internal cert management, upstream
# main.go reads the metrics certificate from the fixed path /etc/kueue/metrics/certs (a Secret mount
# in its Pod). The patched line takes the directory from $KUEUE_METRICS_CERT_DIR and falls back to
# that path, so a process on the local control plane can serve metrics with a certificate of its
# own. Go refuses overlays of files in the module cache, so the patched main.go is built as a
# package of this module (a temporary directory, removed afterwards); it imports only Kueue's public
# packages, resolved through go.mod as the tool directive pins them.
#
#   hack/kueue/build.sh                   # build (or reuse) and print the dir
#   KUBETUNE_CACHE=/somewhere build.sh    # choose the cache root
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null || { echo "hack/kueue/build.sh: go is not on PATH" >&2; exit 1; }
version="$(awk '$1 == "sigs.k8s.io/kueue" && $2 ~ /^v/ {print $2}' "$here/go.mod")"
# Contents only (go.mod, go.sum and this script, which holds the patch), so every checkout of the
# same versions shares one build and a changed patch rebuilds.
sum_hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
out="$cache_root/kueue/${version}-${sum_hash}"

if [[ -x "$out/kueue" && -d "$out/crds" && -f "$out/webhooks.yaml" ]]; then
  echo "$out"
  exit 0
fi

cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
rm -rf "$out.tmp"
mkdir -p "$out.tmp/crds"
go mod download sigs.k8s.io/kueue  # a fresh machine: the source is needed before the build
src="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)"
main_go="$src/cmd/kueue/main.go"
upstream='metricsCertPath := "/etc/kueue/metrics/certs"'
patched='metricsCertPath := os.Getenv("KUEUE_METRICS_CERT_DIR"); if metricsCertPath == "" { metricsCertPath = "/etc/kueue/metrics/certs" }'
grep -qF "$upstream" "$main_go" || {
  echo "hack/kueue/build.sh: '$upstream' not found in $main_go; update the patch for this version" >&2
  exit 1
}
pkg_dir="$(mktemp -d "$here/kueuebuild-XXXXXX")"
trap 'rm -rf "$pkg_dir"' EXIT
sed "s|${upstream}|${patched}|" "$main_go" > "$pkg_dir/main.go"

echo "building kueue ${version}" >&2
go build -trimpath \
  -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=${version}" \
  -o "$out.tmp/kueue" "./$(basename "$pkg_dir")"
# CRDs and webhook configurations ship in the module source, same version as the binary.
cp "$src"/config/components/crd/bases/*.yaml "$out.tmp/crds/"
cp "$src/config/components/webhook/manifests.yaml" "$out.tmp/webhooks.yaml"
chmod -R u+w "$out.tmp"

# Publish atomically so an interrupted build is never mistaken for a finished one.
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"

#!/usr/bin/env bash
# Build the KEDA operator (github.com/kedacore/keda/v2/cmd/operator) and its metrics adapter (cmd/adapter,
# the external.metrics.k8s.io server) from the pinned module in go.mod into a cache directory outside the
# repository, keyed by version, and copy the CRDs and the ClusterRoles/Role of the same module version
# next to them. Does nothing when all are already there.
# Prints the directory on stdout: <dir>/keda-operator, <dir>/keda-adapter, <dir>/crds/*.yaml and
# <dir>/rbac/{operator,metrics-server}.yaml.
#
# The operator links every scaler KEDA ships (2,000 packages: the AWS, Azure and GCP SDKs among
# them): about 1.8 GB of modules and, on one core, about 12 minutes the first time; the adapter reuses
# most of that build (48 s after it).
#
#   hack/keda/build.sh                    # build (or reuse) and print the dir
#   KUBETUNE_CACHE=/somewhere build.sh    # choose the cache root
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null || { echo "hack/keda/build.sh: go is not on PATH" >&2; exit 1; }
version="$(awk '$2 == "github.com/kedacore/keda/v2" && $3 ~ /^v/ {print $3}' "$here/go.mod")"
[[ -n "$version" ]] || { echo "hack/keda/build.sh: no github.com/kedacore/keda/v2 version in go.mod" >&2; exit 1; }
sum_hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
out="$cache_root/keda/${version}-${sum_hash}"

if [[ -x "$out/keda-operator" && -x "$out/keda-adapter" && -d "$out/crds" && -d "$out/rbac" ]]; then
  echo "$out"
  exit 0
fi

cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
rm -rf "$out.tmp"
mkdir -p "$out.tmp/crds" "$out.tmp/rbac"
go mod download github.com/kedacore/keda/v2
src="$(go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)"
echo "building keda-operator ${version}" >&2
go build -trimpath -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${version}" \
  -o "$out.tmp/keda-operator" github.com/kedacore/keda/v2/cmd/operator
echo "building keda-adapter ${version}" >&2
go build -trimpath -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${version}" \
  -o "$out.tmp/keda-adapter" github.com/kedacore/keda/v2/cmd/adapter
cp "$src"/config/crd/bases/*.yaml "$out.tmp/crds/"
# What KEDA's own release grants its operator and adapter (kubetune.cluster.keda binds them).
cp "$src"/config/rbac/role.yaml "$out.tmp/rbac/operator.yaml"
cp "$src"/config/metrics-server/role.yaml "$out.tmp/rbac/metrics-server.yaml"
chmod -R u+w "$out.tmp"

# Publish atomically so an interrupted build is never mistaken for a finished one.
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"

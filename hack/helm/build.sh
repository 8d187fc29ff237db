#!/usr/bin/env bash
# Build helm from the pinned module in go.mod into a cache directory outside the
# repository, keyed by version; a no-op when it is already there. Prints the directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "helm.sh/helm/v3" && $2 ~ /^v/ {print $2}' "$here/go.mod")"
sum_hash="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
out="$cache_root/helm/helm-${version}-${sum_hash}"

if [[ -x "$out/helm" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out.tmp"
cd "$here"
echo "building helm ${version}" >&2
CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${version}" \
  -o "$out.tmp/helm" helm.sh/helm/v3/cmd/helm
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"

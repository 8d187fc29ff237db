#!/usr/bin/env bash
# Build the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, and kubectl for users and tests) from the pinned modules in go.mod into a cache directory
# outside the repository, keyed by version. Does nothing when the binaries are
# already there. Prints the directory on stdout.
#
#   hack/controlplane/build.sh            # build (or reuse) and print the bin dir
#   KUBETUNE_CACHE=/somewhere build.sh    # choose the cache root
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2}' "$here/go.mod")"
# The key covers go.sum too, so a dependency bump rebuilds; it hashes contents only, so every
# checkout of the same versions shares one build.
sum_hash="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
out="$cache_root/controlplane/k8s-${k8s_version}-etcd-${etcd_version}-${sum_hash}"

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
have_all=1
for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || have_all=0; done
if [[ $have_all == 1 ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out.tmp"
major="${k8s_version#v}"; major="${major%%.*}"
minor="$(echo "$k8s_version" | cut -d. -f2)"
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${k8s_version} \
 -X k8s.io/component-base/version.gitMajor=${major} \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"

cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
# One binary at a time: linking kube-apiserver takes a few GB of memory.
for pkg in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
           k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl; do
  echo "building ${pkg##*/} ${k8s_version}" >&2
  go build -trimpath -ldflags "$ldflags" -o "$out.tmp/${pkg##*/}" "$pkg"
done
echo "building etcd ${etcd_version}" >&2
go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3

# Publish atomically so an interrupted build is never mistaken for a finished one.
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"

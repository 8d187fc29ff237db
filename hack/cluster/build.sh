#!/usr/bin/env bash
# Build what a real node of the local cluster runs, from pinned Go modules, into a cache
# directory outside the repository keyed by version (a warm run compiles nothing), and install
# Debian's containerd, runc, CNI plugins and iptables with apt when they are missing.
#
#   hack/cluster/build.sh     # prints the bin dir (kubelet, kube-proxy, pause, coredns, metrics-server)
#
# kubelet and kube-proxy come from the same module as the control plane (hack/controlplane's
# go.mod, unchanged); they import a few packages the control plane does not, whose sums are in
# go.sum.extra. coredns and metrics-server come from their own modules at COREDNS_VERSION and
# METRICS_SERVER_VERSION; pause from ./pause.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cp_mod="$here/../controlplane"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
# The resource metrics API (kubectl top, the HPA's CPU utilisation). v0.8.0: the newest release the Go
# proxy here serves as approved (v0.9.x is listed but not an approved release).
METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.8.0}"
k8s_version="$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$cp_mod/go.mod")"
sum_hash="$(cat "$cp_mod/go.mod" "$cp_mod/go.sum" "$here/go.sum.extra" "$here/pause/main.go" \
  <(echo "$COREDNS_VERSION $METRICS_SERVER_VERSION") | sha256sum | cut -c1-12)"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
out="$cache_root/cluster/k8s-${k8s_version}-coredns-${COREDNS_VERSION}-${sum_hash}"

need() { command -v "$1" >/dev/null 2>&1 || { echo "build.sh: $1 is required ($2)" >&2; exit 1; }; }

install_host_packages() {
  # Debian's containerd 1.6 (CRI plugin built in), runc, the CNI plugins in /usr/lib/cni,
  # iptables for kube-proxy, socat for the API server relay, busybox for the toolbox image.
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v socat >/dev/null || missing+=(socat)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v conntrack >/dev/null || missing+=(conntrack)
  # A static busybox: the cluster's "toolbox" image for tests (shell, nslookup, wget).
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  if ((${#missing[@]})); then
    need apt-get "install ${missing[*]} by hand on a non-Debian host"
    echo "installing ${missing[*]} (apt)" >&2
    # Another apt run (a parallel image build) may hold the lock: wait for it.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
      "${missing[@]}" >&2
  fi
}

install_host_packages
need go "the Go toolchain builds kubelet, kube-proxy, pause, coredns and metrics-server"

have_all=1
for b in kubelet kube-proxy pause coredns metrics-server; do [[ -x "$out/$b" ]] || have_all=0; done
if [[ $have_all == 1 ]]; then
  echo "$out"
  exit 0
fi

rm -rf "$out.tmp"
mkdir -p "$out.tmp/mod"
# A scratch copy of the control plane's module: its go.mod as is, its go.sum plus the extra sums.
cp "$cp_mod/go.mod" "$out.tmp/mod/go.mod"
sort -u "$cp_mod/go.sum" "$here/go.sum.extra" > "$out.tmp/mod/go.sum"

major="${k8s_version#v}"; major="${major%%.*}"
minor="$(echo "$k8s_version" | cut -d. -f2)"
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${k8s_version} \
 -X k8s.io/component-base/version.gitMajor=${major} \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
build() { nice -n 10 go build -trimpath "$@"; }

for pkg in k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy; do
  echo "building ${pkg##*/} ${k8s_version}" >&2
  (cd "$out.tmp/mod" && build -ldflags "$ldflags" -o "$out.tmp/${pkg##*/}" "$pkg")
done
echo "building pause" >&2
(cd "$here/pause" && build -ldflags "-s -w" -o "$out.tmp/pause" .)
echo "building coredns ${COREDNS_VERSION}" >&2
# `go install pkg@version` builds CoreDNS with exactly its own go.mod (it has no replace directives).
GOBIN="$out.tmp" GOFLAGS= nice -n 10 go install -trimpath -ldflags "-s -w" \
  "github.com/coredns/coredns@${COREDNS_VERSION}"
echo "building metrics-server ${METRICS_SERVER_VERSION}" >&2
GOBIN="$out.tmp" GOFLAGS= nice -n 10 go install -trimpath -ldflags "-s -w" \
  "sigs.k8s.io/metrics-server/cmd/metrics-server@${METRICS_SERVER_VERSION}"
rm -rf "$out.tmp/mod"

# Publish atomically so an interrupted build is never mistaken for a finished one.
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"

#!/usr/bin/env bash
# The base image the Dockerfiles build on, made from Debian packages, for machines that reach Debian's
# package mirror but no container registry. It stands in for `python:3.11-slim-bookworm`: Debian bookworm
# (minbase) with its python3.11, venv support (ensurepip), CA certificates and tini.
#
#   hack/images/base.sh        # build (or reuse) the image; prints its tag on stdout
#
# The rootfs tarball is cached under $KUBETUNE_CACHE/images/<key>/ (key: a hash of this recipe), so a warm
# run does no debootstrap, and an image already in the daemon is not imported again.
# DEBIAN_MIRROR overrides the mirror (default: the first Debian mirror apt is configured with).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=bookworm
# python3-venv brings ensurepip (the Dockerfiles make a venv); python-is-python3 gives `python` as the
# upstream image has it; tini is PID 1 of the runtime image (python would ignore SIGTERM there).
packages=(python3 python3-venv python-is-python3 ca-certificates tini)
# The key covers the recipe (suite, packages, trimming revision): change one and a new image is built.
recipe_revision=1
key="$(echo "$suite ${packages[*]} $recipe_revision" | sha256sum | cut -c1-12)"
py_version=3.11
image="kubetune/base-python:${py_version}-${suite}-${key}"

cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
dir="$cache_root/images/base-python-${suite}-${key}"
tarball="$dir/rootfs.tar"

die() { echo "base.sh: $*" >&2; exit 1; }
docker="$("$here/dockerd.sh" client)"

if "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  # deb822 sources (URIs: ...) first, then one-line sources (deb URL suite ...); security mirrors skipped.
  m="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$1 == "URIs:" {print $2}' | grep -v security | grep /debian | head -1)"
  [[ -n "$m" ]] || m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' | grep -v security | grep /debian | head -1)"
  echo "${m:-http://deb.debian.org/debian}"
}

if [[ ! -f "$tarball" ]]; then
  [[ $(id -u) == 0 ]] || die "debootstrap needs root"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing (hack/images/dockerd.sh ensure installs it)"
  rootfs="$dir/rootfs.tmp"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  m="$(mirror)"
  echo "base.sh: debootstrap $suite from $m (${packages[*]})" >&2
  start=$(date +%s)
  debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$rootfs" "$m" \
    >"$dir/debootstrap.log" 2>&1 || { tail -20 "$dir/debootstrap.log" >&2; die "debootstrap failed (log: $dir/debootstrap.log)"; }
  # What a slim image leaves out: downloaded packages, package lists, docs, man pages, other locales.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
  find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  find "$rootfs"/usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf {} +
  # The container's resolv.conf and hostname come from the runtime, not from the build host.
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  echo "base.sh: rootfs in $(( $(date +%s) - start )) s: $tarball" >&2
fi

"$docker" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap $suite minbase + ${packages[*]}" \
  "$tarball" "$image" >/dev/null
echo "$image"

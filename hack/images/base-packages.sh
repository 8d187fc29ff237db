#!/bin/sh
# Runs inside a Dockerfile stage: installs with apt only what the base image lacks, so one Dockerfile builds
# on python:3.11-slim, on the CUDA runtime image (no python) and offline on hack/images/base.sh's base (which
# has everything, so no package index is needed).
#
#   base-packages.sh build    # python3 with venv support
#   base-packages.sh run      # python3, tini, CA certificates
set -eu

need=""
command -v python3 >/dev/null 2>&1 || need="$need python3"
case "${1:-}" in
  build)
    python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need="$need python3-venv"
    ;;
  run)
    command -v tini >/dev/null 2>&1 || need="$need tini"
    [ -f /etc/ssl/certs/ca-certificates.crt ] || need="$need ca-certificates"
    ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac

if [ -n "$need" ]; then
  echo "base-packages.sh: installing$need" >&2
  apt-get update
  # shellcheck disable=SC2086  # $need is a list of package names
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
  rm -rf /var/lib/apt/lists/*
fi

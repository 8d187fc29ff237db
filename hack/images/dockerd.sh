#!/usr/bin/env bash
# A Docker daemon for the image builds, on a machine where nothing starts one.
#
#   hack/images/dockerd.sh ensure   # install docker.io (and debootstrap) when missing, start dockerd if none answers
#   hack/images/dockerd.sh stop     # stop the dockerd that `ensure` started; a daemon started by anyone else is left alone
#   hack/images/dockerd.sh client   # print the docker client to build with (one that runs BuildKit without buildx);
#                                   # installs nothing: it fails naming what is missing
#
# `ensure` writes dockerd's pid to $KUBETUNE_CACHE/dockerd/dockerd.pid only when it started the daemon itself,
# and `stop` acts on nothing else, so a developer's own daemon survives the project's scripts.
set -euo pipefail

cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
state="$cache_root/dockerd"
pidfile="$state/dockerd.pid"

die() { echo "dockerd.sh: $*" >&2; exit 1; }

# Debian's docker.io (20.10) has BuildKit built into the daemon and its client drives it directly; a newer
# client (23+) insists on the buildx plugin for BuildKit. Use a client on PATH only when it can do both.
client() {
  local c
  for c in "$(command -v docker 2>/dev/null || true)" /usr/bin/docker; do
    [[ -n "$c" && -x "$c" ]] || continue
    if "$c" buildx version >/dev/null 2>&1; then echo "$c"; return 0; fi
    local v
    v="$("$c" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')"
    if [[ -n "$v" && "$v" -le 22 ]]; then echo "$c"; return 0; fi
  done
  die "no docker client that builds with BuildKit: install docker.io (hack/images/dockerd.sh ensure) or the buildx plugin"
}

install_missing() {
  local pkgs=()
  [[ -x /usr/sbin/dockerd || -n "$(command -v dockerd 2>/dev/null)" ]] || pkgs+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || pkgs+=(debootstrap)
  ((${#pkgs[@]} == 0)) && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get to install them"
  [[ $(id -u) == 0 ]] || die "missing ${pkgs[*]}: run as root (apt-get install) or install them yourself"
  echo "dockerd.sh: installing ${pkgs[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
}

answers() { "$(client)" info >/dev/null 2>&1; }

ensure() {
  install_missing
  if answers; then return 0; fi
  [[ $(id -u) == 0 ]] || die "no Docker daemon answers and starting one needs root"
  local dockerd
  dockerd="$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)"
  [[ -x "$dockerd" ]] || die "dockerd not found after installing docker.io"
  mkdir -p "$state"
  # The daemon outlives this script (setsid, own session); its log stays beside the pid file.
  setsid "$dockerd" >"$state/dockerd.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then echo "dockerd.sh: dockerd started (pid $(cat "$pidfile"), log $state/dockerd.log)" >&2; return 0; fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -20 "$state/dockerd.log" >&2; rm -f "$pidfile"; die "dockerd exited"; }
    sleep 0.5
  done
  tail -20 "$state/dockerd.log" >&2
  die "dockerd did not answer within 60 s"
}

stop() {
  [[ -f "$pidfile" ]] || { echo "dockerd.sh: no dockerd started by this script" >&2; return 0; }
  local pid
  pid="$(cat "$pidfile")"
  # Only a live process that is dockerd: a stale pid file never kills a stranger.
  if kill -0 "$pid" 2>/dev/null && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) still running 30 s after SIGTERM"
    echo "dockerd.sh: stopped dockerd (pid $pid)" >&2
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  ensure) ensure ;;
  stop) stop ;;
  client) client ;;
  *) die "usage: $0 ensure|stop|client" ;;
esac

#!/usr/bin/env bash
# Debian's zsh and fish, so the CLI's completion tests (tests/unit/client/test_completion_shells.py) parse
# and run the generated scripts in the real shells. A no-op when both are installed.
#
#   hack/shells/setup.sh
set -euo pipefail

pkgs=(zsh fish)
command -v zsh >/dev/null 2>&1 && command -v fish >/dev/null 2>&1 && exit 0
die() { echo "shells/setup.sh: $*" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || die "install zsh and fish by hand on a non-Debian host"
[[ $(id -u) == 0 ]] || die "missing ${pkgs[*]}: run as root (apt-get install) or install them yourself"
apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${pkgs[@]}" >&2

#!/usr/bin/env bash
# Debian's Chromium and its chromedriver for the dashboard's browser test (tests/integration/ui), from the
# distribution's packages: nothing is downloaded at test time. A no-op when both are installed.
#
#   hack/browser/setup.sh
set -euo pipefail

pkgs=(chromium chromium-driver)
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && exit 0
die() { echo "browser/setup.sh: $*" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || die "install Chromium and chromedriver by hand on a non-Debian host"
[[ $(id -u) == 0 ]] || die "missing ${pkgs[*]}: run as root (apt-get install) or install them yourself"
apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${pkgs[@]}" >&2

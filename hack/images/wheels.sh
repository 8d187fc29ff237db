#!/usr/bin/env bash
# A wheelhouse for offline image builds: every wheel the operator, api, CPU runtime and s3-server images install,
# resolved and downloaded on this host (which reaches the package index), then imported as an image whose root
# the Dockerfiles bind-mount at /wheelhouse (build arg WHEELHOUSE_IMAGE). Build containers need no network.
#
#   hack/images/wheels.sh      # build (or reuse) the wheelhouse; prints the image tag on stdout
#
# Cached under $KUBETUNE_CACHE/wheels/<key>/ (key: pyproject.toml and a recipe revision): a warm run
# resolves and downloads nothing. Each set has a lock (<set>.txt, name==version for the whole closure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
# The key is the dependency list (pyproject.toml) and the revision of the recipe (bump it when pydeps.py
# or this script changes what a wheelhouse holds).
recipe_revision=4
key="$(cat "$root/pyproject.toml" <(echo "$recipe_revision") | sha256sum | cut -c1-12)"
image="kubetune/wheelhouse:$key"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
dir="$cache_root/wheels/$key"
# set name -> pydeps.py arguments
declare -A sets=([build]="--extra build" [operator]="--extra operator" [api]="--extra api"
                 [runtime-cpu]="--extra runtime --cpu" [s3-server]="--extra s3-server")

die() { echo "wheels.sh: $*" >&2; exit 1; }
docker="$("$here/dockerd.sh" client)"

if "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

"$python" -m pip --version >/dev/null 2>&1 || die "$python has no pip (install python3-pip)"
# Wheels are downloaded into one pool shared by every key (pip skips a file it already has), so a new lock
# downloads only what changed; the image takes the locks and the wheels they pin.
pool="$cache_root/wheels/pool"
if [[ ! -f "$dir/.complete" ]]; then
  mkdir -p "$dir" "$pool"
  start=$(date +%s)
  # The images' platform (pydeps.PLATFORM_ARGS), whatever this host's interpreter is.
  mapfile -t platform < <("$python" -c "import sys; sys.path.insert(0, '$here'); import pydeps; print('\n'.join(pydeps.PLATFORM_ARGS))")
  for s in "${!sets[@]}"; do
    [[ -f "$dir/$s.txt" ]] && continue
    echo "wheels.sh: resolving $s" >&2
    # shellcheck disable=SC2086  # the set's arguments are words
    "$python" "$here/pydeps.py" lock ${sets[$s]} --pyproject "$root/pyproject.toml" --platform-args --out "$dir/$s.txt.tmp"
    echo "wheels.sh: downloading $s ($(wc -l <"$dir/$s.txt.tmp") packages)" >&2
    "$python" -m pip download --quiet --no-deps "${platform[@]}" -d "$pool" -r "$dir/$s.txt.tmp"
    mv "$dir/$s.txt.tmp" "$dir/$s.txt"
  done
  touch "$dir/.complete"
  echo "wheels.sh: wheelhouse resolved in $(( $(date +%s) - start )) s: $dir" >&2
fi

# The image's root: the locks and the wheels they pin, nothing else (never run, only mounted at /wheelhouse).
files="$(mktemp)"
trap 'rm -f "$files"' EXIT
locks=()
for s in "${!sets[@]}"; do locks+=("$s.txt"); done
"$python" "$here/pydeps.py" files --pool "$pool" --locks "${locks[@]/#/$dir/}" >"$files"
tar -c -C "$dir" "${locks[@]}" -C "$pool" -T "$files" \
  | "$docker" import --message "kubetune wheelhouse $key" - "$image" >/dev/null
echo "$image"

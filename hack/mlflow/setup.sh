#!/usr/bin/env bash
# MLflow's own tracking server for the local platform and tests/integration/train/test_mlflow_tracking.py, in
# its own environment (about 850 MB: the server pulls pandas, scikit-learn, sqlalchemy, ...; none of it
# belongs in .venv or an image). The trainer talks to it over REST with httpx (kubetune.train.tracking).
#
#   hack/mlflow/setup.sh     # make mlflow; a no-op when $KUBETUNE_CACHE/mlflow/<version> is complete
set -euo pipefail

MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
cache_root="${KUBETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetune}"
venv="$cache_root/mlflow/$MLFLOW_VERSION"
stamp="$venv/.installed"
if [[ -f "$stamp" ]]; then
  echo "mlflow: $venv holds mlflow $MLFLOW_VERSION"
  exit 0
fi
# Built where it stays: a venv's console scripts name their interpreter by absolute path, so one built
# elsewhere and moved cannot start (`bin/mlflow`: No such file or directory). The stamp marks it complete.
rm -rf "$venv" "$venv.tmp"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "mlflow==$MLFLOW_VERSION"
"$venv/bin/mlflow" --version >/dev/null
touch "$stamp"
echo "mlflow: installed $MLFLOW_VERSION in $venv"

"""Find (or build, once per machine) the pinned helm binary, and run `helm template`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "charts" / "kubetune"
HELM_BUILD = REPO_ROOT / "hack" / "helm" / "build.sh"


def helm_path() -> Path:
    """$KUBETUNE_HELM if set, else the binary hack/helm/build.sh builds from its Go module (cached)."""
    override = os.environ.get("KUBETUNE_HELM")
    if override:
        return Path(override)
    out = subprocess.run([str(HELM_BUILD)], check=True, capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1]) / "helm"


def set_args(values: dict[str, str]) -> list[str]:
    return [arg for key, value in sorted(values.items()) for arg in ("--set", f"{key}={value}")]


def template(release: str, namespace: str, values: dict[str, str] | None = None,
             values_files: list[Path] | None = None, helm: Path | None = None,
             chart: Path = CHART_DIR) -> str:
    """`helm template` output; raises CalledProcessError (with helm's stderr) when rendering fails."""
    cmd = [str(helm or helm_path()), "template", release, str(chart), "--namespace", namespace]
    for path in values_files or []:
        cmd += ["--values", str(path)]
    cmd += set_args(values or {})
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

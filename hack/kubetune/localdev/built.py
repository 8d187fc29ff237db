"""Components built from their pinned Go modules by `hack/<name>/build.sh` (Kueue, KEDA), found or built."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HACK = Path(__file__).resolve().parents[2]  # hack/kubetune/localdev/built.py -> hack/


def build_script(name: str) -> Path:
    return HACK / name / "build.sh"


def find_built(name: str, dir_env: str, required: tuple[str, ...], error: type[Exception]) -> Path:
    """The directory holding `required`: $<dir_env>, or what build.sh prints last (a no-op when cached)."""
    if os.environ.get(dir_env):
        directory = Path(os.environ[dir_env])
    else:
        try:
            out = subprocess.run([str(build_script(name))], check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise error(f"hack/{name}/build.sh failed:\n{exc.stderr[-4000:]}") from exc
        directory = Path(out.stdout.strip().splitlines()[-1])
    missing = [p for p in required if not (directory / p).exists()]
    if missing:
        raise error(f"missing {', '.join(missing)} in {directory}")
    return directory

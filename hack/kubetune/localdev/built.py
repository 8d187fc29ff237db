"""Components built from their pinned Go modules by `hack/<name>/build.sh` (Kueue, KEDA), found or built."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
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


def wait_ready(proc: subprocess.Popen[bytes] | None, port: int, what: str, log_tail: Callable[[], str],
               error: type[Exception], timeout: float) -> None:
    """Until the started manager's /readyz answers 200 on loopback; its exit or the deadline raises `error`."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise error(f"{what} exited with {proc.returncode}:\n{log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.URLError) as err:
            last = str(err)
        time.sleep(0.2)  # polling a process we just started; there is nothing to watch yet
    raise error(f"{what} not ready after {timeout}s ({last}):\n{log_tail()}")

"""hack/images/dockerd.sh stop acts only on a dockerd that its own `ensure` started (pid file), never on a stranger."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "hack/images/dockerd.sh"


def stop(cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "stop"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUBETUNE_CACHE": str(cache)})


def test_stop_without_a_pid_file_does_nothing(tmp_path: Path) -> None:
    result = stop(tmp_path)
    assert result.returncode == 0
    assert "no dockerd started by this script" in result.stderr


def test_stop_leaves_a_process_that_is_not_dockerd_alone(tmp_path: Path) -> None:
    # A stale pid file whose pid now belongs to another program: that program must survive.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "dockerd").mkdir()
        pidfile = tmp_path / "dockerd" / "dockerd.pid"
        pidfile.write_text(f"{stranger.pid}\n")
        result = stop(tmp_path)
        assert result.returncode == 0, result.stderr
        assert stranger.poll() is None
        assert not pidfile.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_unknown_command_fails_with_usage() -> None:
    result = subprocess.run([str(SCRIPT), "restart"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "usage" in result.stderr

"""The container init forwards a stop and reports the command's own end: 143 for a SIGTERM, every time.

The node signals the whole session (init and command at once), so the command may already be gone when the
init's handler forwards the signal; the init must then still report the command's status (it once exited 1
from a ChildProcessError, and a liveness restart showed exit code 1 instead of 143)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.unit


@contextmanager
def _init_running() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The container init running `sh` that execs `sleep`, in a session of its own; yields it and the command's
    pid once started; kills the session if a test left it running."""
    proc = subprocess.Popen([sys.executable, "-m", "kubetune.localdev.node.podinit", "sh", "-c",
                             "echo $$; exec sleep 30"], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        yield proc, int(proc.stdout.readline())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_session_wide_sigterm_is_reported_as_143() -> None:
    with _init_running() as (proc, _):
        os.killpg(proc.pid, signal.SIGTERM)  # as the node's signal_session: init and command together
        assert proc.wait(timeout=30) == 143


def test_a_signal_to_the_init_alone_is_forwarded_to_the_command() -> None:
    with _init_running() as (proc, _):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143


def test_a_forwarded_signal_to_a_command_already_gone_still_reports_its_status() -> None:
    # The race made likely (the old init failed 3 runs in 4): the init is stopped while its command dies (a
    # zombie it cannot reap yet), a SIGTERM waits for it, and on SIGCONT its handler may run before its wait.
    with _init_running() as (proc, command):
        os.kill(proc.pid, signal.SIGSTOP)
        # Stopped for real before the command dies; a STOP still pending could let it reap the command first.
        while _state(proc.pid) != "T":
            time.sleep(0.01)
        os.kill(command, signal.SIGTERM)
        while _state(command) != "Z":
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.wait(timeout=30) == 143


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


"""Interrupting or killing whatever started the control plane leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from kubetune.localdev.controlplane import find_binaries

REPO = Path(__file__).resolve().parents[3]
COMPONENTS = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


def _components_under(parent: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in parent.children(recursive=True):
        try:
            if child.name() in COMPONENTS:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_for_components(parent: psutil.Process, timeout: float = 180) -> list[psutil.Process]:
    """Wait until all four components run under parent (polling /proc: there is no event to watch)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = _components_under(parent)
        if {p.name() for p in procs} == COMPONENTS:
            return procs
        assert parent.is_running(), "the process under test exited early"
        time.sleep(0.2)
    raise TimeoutError("control plane did not start")


def _assert_all_gone(procs: list[psutil.Process], timeout: float = 60) -> None:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    assert alive == [], f"left behind: {[(p.pid, p.name()) for p in alive]}"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    # Build (or find) the binaries once here so the children start fast.
    return {**os.environ, "KUBETUNE_CONTROLPLANE_BIN": str(find_binaries())}


CHILD = """
import sys, threading
from kubetune.localdev.controlplane import ControlPlane
with ControlPlane.start() as cp:
    print("ready", flush=True)
    threading.Event().wait()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_launcher_process_ending_takes_the_control_plane_with_it(env: dict[str, str], sig: signal.Signals) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        procs = _wait_for_components(psutil.Process(proc.pid))
        # SIGINT runs the context manager's cleanup; SIGTERM and SIGKILL end Python without
        # cleanup, and only the children's parent-death signal takes them down.
        proc.send_signal(sig)
        proc.wait(timeout=60)
        _assert_all_gone(procs)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_interrupting_a_pytest_run_leaves_nothing(env: dict[str, str], tmp_path: Path) -> None:
    """Ctrl-C in the middle of an integration run: the session fixture tears the cluster down."""
    test_file = tmp_path / "test_blocks.py"
    test_file.write_text(
        "import threading\n"
        "def test_blocks(control_plane):\n"
        "    print('cluster up', flush=True)\n"
        "    threading.Event().wait()\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-s",
            "-p",
            "no:cacheprovider",
            f"--confcutdir={REPO / 'tests'}",
            "--rootdir",
            str(REPO),
            "-c",
            str(REPO / "pyproject.toml"),
            str(test_file),
            "--override-ini",
            f"testpaths={tmp_path}",
            "-p",
            "tests.integration.conftest",
        ],
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "cluster up" in line:
                break
        procs = _wait_for_components(psutil.Process(proc.pid))
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        _assert_all_gone(procs)
    finally:
        if proc.poll() is None:
            proc.kill()

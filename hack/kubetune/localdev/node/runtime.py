"""Containers as host processes: one session (and process group) per container.

Each container's process leads its own session, so everything it starts can
be found (through /proc) and signalled together, even children that moved to
another process group; only a child that calls setsid() itself escapes.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kubetune.localdev.node import netns

PODINIT = "kubetune.localdev.node.podinit"
START_ERROR_EXIT_CODE = 128  # what container runtimes report when exec fails
_PR_SET_PDEATHSIG = 1


def _die_with_agent(netns_fd: int | None = None) -> None:
    # Runs in the child between fork and exec: if the agent is killed outright
    # (no chance to stop its pods), the kernel kills the container's main process.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if netns_fd is not None:
        netns.setns(netns_fd)  # the pod network namespace; PID namespace and session come on top


class StartError(RuntimeError):
    """The command could not be executed (the runtime's StartError)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def find_executable(name: str, search_path: str) -> str:
    """An existing path as is; otherwise the name (or an image path's basename) in `search_path`."""
    if "/" in name and Path(name).is_file() and os.access(name, os.X_OK):
        return name
    found = shutil.which(Path(name).name if name.startswith("/") else name, path=search_path)
    if found is None:
        raise StartError(f'exec: "{name}": executable file not found in $PATH')
    return found


def session_table(session_id: int) -> dict[int, int]:
    """Live (non-zombie) processes whose session is `session_id`, each with its parent, from /proc."""
    members = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after the command name, which may itself contain spaces and parentheses:
        # state, ppid, pgrp, session, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == session_id:
            members[int(entry.name)] = int(fields[1])
    return members


def session_members(session_id: int) -> list[int]:
    return sorted(session_table(session_id))


def session_rss_bytes(session_id: int) -> int:
    """Resident memory of every process in the session: what a container's memory cgroup charges."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in session_table(session_id):
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
    return total


def signal_session(session_id: int, sig: signal.Signals) -> None:
    for pid in session_members(session_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def exit_code(returncode: int) -> int:
    """Signals as the shell and the kubelet report them: 128 + signal number."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: dt.datetime = field(default_factory=_now)
    finished_at: dt.datetime | None = None
    oom_killed: bool = False
    _signalled: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def terminate(self) -> None:
        """SIGTERM every process of the container, once (a second SIGTERM can mean "hurry" to a program)."""
        if not self._signalled:
            self._signalled = set(session_members(self.pid))
            signal_session(self.pid, signal.SIGTERM)

    def _terminate_late_starters(self, signalled: set[int]) -> set[int]:
        """SIGTERM the main command if it started after the first SIGTERM.

        A namespace's PID 1 ignores signals it has no handler for, so podinit
        drops a SIGTERM that arrives while Python is still starting; the command
        it then starts would run out the whole grace period. Its direct children
        are the command (and orphans, which were signalled already).
        """
        table = session_table(self.pid)
        inits = {pid for pid, parent in table.items() if parent == self.pid}
        late = {pid for pid, parent in table.items() if parent in inits and pid not in signalled}
        for pid in late:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        return late

    def kill_for_memory(self) -> int:
        """SIGKILL the whole session at once, as the kernel's OOM killer ends a cgroup over its limit."""
        self.oom_killed = True
        signal_session(self.pid, signal.SIGKILL)
        self.popen.wait()
        code = self.poll()
        assert code is not None
        return code

    def poll(self) -> int | None:
        """The exit code once the container's main process has ended; its session is then killed."""
        code = self.popen.poll()
        if code is None:
            return None
        if self.finished_at is None:
            self.finished_at = _now()
            # Like a container's init exiting: nothing it left behind survives it.
            signal_session(self.pid, signal.SIGKILL)
        return exit_code(code)

    def stop(self, grace_seconds: float) -> int:
        """SIGTERM to the whole session, SIGKILL after the grace period; returns the exit code."""
        if self.popen.poll() is None:
            self.terminate()
            deadline = time.monotonic() + max(grace_seconds, 0)
            while self.popen.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                self._signalled |= self._terminate_late_starters(self._signalled)
        signal_session(self.pid, signal.SIGKILL)
        self.popen.wait()
        code = self.poll()
        assert code is not None
        return code


def can_isolate() -> bool:
    """Whether containers can get their own PID namespace (root, util-linux unshare)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def isolated(argv: Sequence[str], hosts_file: Path | None = None) -> list[str]:
    """argv run as PID 1's child in a fresh PID namespace (see podinit).

    With `hosts_file`, also in a private mount namespace where podinit mounts it over /etc/hosts.
    """
    unshare = shutil.which("unshare") or "unshare"
    if hosts_file is None:
        return [unshare, "--pid", "--fork", "--kill-child=SIGKILL", sys.executable, "-m", PODINIT, *argv]
    return [unshare, "--pid", "--mount", "--propagation", "private", "--fork", "--kill-child=SIGKILL",
            sys.executable, "-m", PODINIT, "--hosts", str(hosts_file), *argv]


def start(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    isolate: bool = False,
    netns_fd: int | None = None,
    hosts_file: Path | None = None,
) -> Process:
    """Start the container's command with stdout and stderr appended to its log file.

    With `netns_fd`, in that network namespace (setns between fork and exec).
    """
    executable = find_executable(argv[0], env.get("PATH", os.defpath))
    command = [executable, *argv[1:]]
    if isolate:
        command = isolated(command, hosts_file)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=functools.partial(_die_with_agent, netns_fd),
            )
        except OSError as error:
            raise StartError(f"exec {argv[0]!r}: {error}") from error
    return Process(popen=popen, log_path=log_path)


def log_tail(log_path: Path, max_lines: int = 80, max_bytes: int = 2048) -> str:
    """The end of a log, as FallbackToLogsOnError reports it."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - max_bytes, 0))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode(errors="replace").splitlines()[-max_lines:]
    return "\n".join(lines)

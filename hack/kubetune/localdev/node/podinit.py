"""PID 1 of a container's PID namespace: runs the command, forwards signals, reaps orphans.

Used when the agent can create PID namespaces (root): the container runs as

    unshare --pid --kill-child=SIGKILL <python> -m kubetune.localdev.node.podinit CMD ARGS...

If the agent dies outright, the kernel kills `unshare` (PR_SET_PDEATHSIG), unshare kills
this process, and the death of a namespace's PID 1 kills everything else in it: a
killed agent leaves no process behind. PID 1 only receives the signals it handles, so
this init handles and forwards the usual ones (a plain `sh` as PID 1 would ignore
SIGTERM).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys

MS_BIND = 4096
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def mount_hosts(source: str) -> None:
    """Bind-mount the node's hosts file over /etc/hosts (we are in a private mount namespace; hosts.py)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), b"/etc/hosts", None, MS_BIND, None) != 0:
        errno = ctypes.get_errno()
        # Not fatal: names then resolve as on the host, and the pod says why in its log.
        print(f"podinit: cannot mount {source} over /etc/hosts: {os.strerror(errno)}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--hosts"] and len(argv) > 1:
        mount_hosts(argv[1])
        argv = argv[2:]
    if not argv:
        print("usage: podinit CMD [ARGS...]", file=sys.stderr)
        return 127
    pending: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def forward(received: int, _frame: object) -> None:
        if child is None:
            pending.append(received)  # arrived before the command started
            return
        # os.kill, not child.send_signal: that polls, and a poll may reap the command (the node signals the
        # whole session, so it can already be gone), leaving the os.wait below without its status.
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, received)

    # Handlers first: a signal that arrives while the command starts is forwarded, not lost.
    for signum in FORWARDED:
        signal.signal(signum, forward)
    try:
        child = subprocess.Popen(argv)
    except OSError as error:
        print(f"exec {argv[0]!r}: {error}", file=sys.stderr)
        return 128
    for received in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, received)
    while True:
        # Reap every orphan re-parented to us; stop when the command itself ends.
        try:
            pid, status = os.wait()
        except ChildProcessError:  # reaped elsewhere after all: Popen kept its status
            code = child.poll()
            return 128 if code is None else (128 - code if code < 0 else code)
        if pid == child.pid:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Container logs as the kubelet's containerLogs endpoint serves them, read from the node's files.

A container's output goes straight to <logs dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log
(one file per run, see sandbox.log_path). This module turns the endpoint's query (follow, previous,
tailLines, sinceSeconds, sinceTime, limitBytes, timestamps) into the bytes to send. It knows nothing
of HTTP or TLS (kubeletapi.py does), so it is tested on plain files.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024
FOLLOW_POLL_SECONDS = 0.2  # the stdlib has no file-change notification; the kubelet's fsnotify wakes it instead

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


class LogRequestError(Exception):
    """A request the node answers with `status` and `message` (the API server relays both)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    since: dt.datetime | None = None  # from sinceSeconds or sinceTime
    limit_bytes: int | None = None


def _bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise LogRequestError(400, f"{name}: {value!r} is not a boolean")


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise LogRequestError(400, f"{name}: {value!r} is not an integer") from None
    if number < minimum:
        raise LogRequestError(400, f"{name}: must be at least {minimum}, got {number}")
    return number


def parse_query(params: Mapping[str, Sequence[str]], now: dt.datetime | None = None) -> LogQuery:
    """The endpoint's query string (parse_qs form) as a LogQuery; LogRequestError(400) when invalid."""
    one = {name: values[-1] for name, values in params.items() if values}
    if one.get("timestamps") is not None and _bool("timestamps", one["timestamps"]):
        # A container writes to its file directly, so no time is known per line; a prefix made up
        # from the file's times would be a lie.
        raise LogRequestError(400, "timestamps: the local node keeps no time per log line "
                                   "(a container's output goes straight to its log file)")
    if "sinceSeconds" in one and "sinceTime" in one:
        raise LogRequestError(400, "at most one of sinceSeconds or sinceTime may be specified")
    since = None
    if "sinceSeconds" in one:
        since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=_int("sinceSeconds", one["sinceSeconds"], 1))
    elif "sinceTime" in one:
        try:
            since = dt.datetime.fromisoformat(one["sinceTime"].replace("Z", "+00:00"))
        except ValueError:
            raise LogRequestError(400, f"sinceTime: {one['sinceTime']!r} is not an RFC 3339 time") from None
        if since.tzinfo is None:
            raise LogRequestError(400, f"sinceTime: {one['sinceTime']!r} has no time zone")
    return LogQuery(
        follow=_bool("follow", one["follow"]) if "follow" in one else False,
        previous=_bool("previous", one["previous"]) if "previous" in one else False,
        tail_lines=_int("tailLines", one["tailLines"], 0) if "tailLines" in one else None,
        since=since,
        limit_bytes=_int("limitBytes", one["limitBytes"], 1) if "limitBytes" in one else None,
    )


def pod_dir(logs_dir: Path, namespace: str, pod: str, uid: str | None) -> Path | None:
    """The pod's log directory: the one of `uid` (the pod the node runs now), else the newest of that name."""
    if uid is not None:
        directory = logs_dir / f"{namespace}_{pod}_{uid}"
        return directory if directory.is_dir() else None
    # Names are DNS labels: no "_", so the prefix cannot match another pod's directory.
    found = [d for d in logs_dir.glob(f"{namespace}_{pod}_*") if d.is_dir()]
    return max(found, key=lambda d: d.stat().st_mtime) if found else None


def runs(container_dir: Path) -> list[Path]:
    """The container's log files, oldest run first."""
    files = [f for f in container_dir.glob("*.log") if f.stem.isdigit()]
    return sorted(files, key=lambda f: int(f.stem))


def select_run(files: Sequence[Path], pod: str, container: str, previous: bool) -> Path:
    """The current (last) run's file, or the one before it for `previous`, with the kubelet's errors."""
    if not files:
        raise LogRequestError(400, f'container "{container}" in pod "{pod}" is waiting to start')
    if not previous:
        return files[-1]
    if len(files) < 2:
        raise LogRequestError(400, f'previous terminated container "{container}" in pod "{pod}" not found')
    return files[-2]


def tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last `lines` lines begin (a last line without newline counts)."""
    size = path.stat().st_size
    if lines == 0:
        return size
    with open(path, "rb") as handle:
        position = size
        # A trailing newline ends the last line; it does not start an empty one.
        handle.seek(max(size - 1, 0))
        if size and handle.read(1) == b"\n":
            position -= 1
        while position > 0:
            start = max(position - CHUNK, 0)
            handle.seek(start)
            block = handle.read(position - start)
            index = len(block)
            while True:
                index = block.rfind(b"\n", 0, index)
                if index < 0:
                    break
                lines -= 1
                if lines == 0:
                    return start + index + 1
            position = start
    return 0


def stream(
    path: Path,
    query: LogQuery,
    live: Callable[[], bool],
    stopped: threading.Event,
) -> Iterator[bytes]:
    """The run's log as chunks; with follow, new output until the run ends (`live()` turns False) or `stopped`."""
    budget = query.limit_bytes
    offset = tail_offset(path, query.tail_lines) if query.tail_lines is not None else 0
    if query.since is not None:
        # No time per line: a run whose last write is older than `since` has nothing newer so far
        # (with follow, what it writes from now on is sent); a newer run is sent whole.
        status = path.stat()
        if dt.datetime.fromtimestamp(status.st_mtime, dt.UTC) < query.since:
            offset = status.st_size
    with open(path, "rb") as handle:
        handle.seek(offset)
        while not stopped.is_set():
            ended = not live()  # read before the last read, so output written just before the end is sent
            chunk = handle.read(CHUNK if budget is None else min(CHUNK, budget))
            if chunk:
                if budget is not None:
                    budget -= len(chunk)
                yield chunk
                if budget == 0:
                    return
                continue
            if not query.follow or ended:
                return
            stopped.wait(FOLLOW_POLL_SECONDS)

"""The containerLogs endpoint's parameters, read from plain log files (no HTTP, no node)."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest

from kubetune.localdev.node import containerlogs, registration
from kubetune.localdev.node.config import NodeConfig
from kubetune.localdev.node.containerlogs import LogQuery, LogRequestError, parse_query

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def _read(path: Path, query: LogQuery, live: bool = False) -> bytes:
    return b"".join(containerlogs.stream(path, query, lambda: live, threading.Event()))


def _log(tmp_path: Path, text: str, name: str = "0.log") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_query_defaults_and_every_parameter() -> None:
    assert parse_query({}) == LogQuery()
    query = parse_query({"follow": ["true"], "previous": ["1"], "tailLines": ["5"], "limitBytes": ["100"],
                         "sinceSeconds": ["60"], "timestamps": ["false"]}, now=NOW)
    assert query == LogQuery(follow=True, previous=True, tail_lines=5, limit_bytes=100,
                             since=NOW - dt.timedelta(seconds=60))
    since = parse_query({"sinceTime": ["2026-12-05T11:00:00Z"]}).since
    assert since == dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("params", "message"), [
    ({"follow": ["yes"]}, "follow: 'yes' is not a boolean"),
    ({"tailLines": ["-1"]}, "tailLines: must be at least 0"),
    ({"tailLines": ["x"]}, "tailLines: 'x' is not an integer"),
    ({"limitBytes": ["0"]}, "limitBytes: must be at least 1"),
    ({"sinceSeconds": ["0"]}, "sinceSeconds: must be at least 1"),
    ({"sinceSeconds": ["5"], "sinceTime": ["2026-12-05T11:00:00Z"]}, "at most one of sinceSeconds or sinceTime"),
    ({"sinceTime": ["yesterday"]}, "is not an RFC 3339 time"),
    ({"timestamps": ["true"]}, "keeps no time per log line"),
])
def test_parse_query_refuses_bad_values_with_400(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(LogRequestError) as caught:
        parse_query(params)
    assert caught.value.status == 400 and message in caught.value.message


@pytest.mark.parametrize(("text", "lines", "expected"), [
    ("a\nb\nc\n", 2, "b\nc\n"),
    ("a\nb\nc", 2, "b\nc"),  # the unfinished last line counts
    ("a\nb\nc\n", 10, "a\nb\nc\n"),
    ("a\nb\nc\n", 0, ""),
    ("", 3, ""),
])
def test_tail_lines(tmp_path: Path, text: str, lines: int, expected: str) -> None:
    path = _log(tmp_path, text)
    assert _read(path, LogQuery(tail_lines=lines)).decode() == expected


def test_tail_lines_across_read_blocks(tmp_path: Path) -> None:
    lines = [f"line {i} " + "x" * 200 + "\n" for i in range(2000)]  # ~400 KiB: several backward blocks
    path = _log(tmp_path, "".join(lines))
    assert _read(path, LogQuery(tail_lines=700)).decode() == "".join(lines[-700:])


def test_limit_bytes_caps_what_is_sent(tmp_path: Path) -> None:
    path = _log(tmp_path, "hello world\n")
    assert _read(path, LogQuery(limit_bytes=5)) == b"hello"
    assert _read(path, LogQuery(tail_lines=1, limit_bytes=100)) == b"hello world\n"


def test_since_skips_a_run_last_written_before_it(tmp_path: Path) -> None:
    path = _log(tmp_path, "old\n")
    hour_ago = (NOW - dt.timedelta(hours=1)).timestamp()
    os.utime(path, (hour_ago, hour_ago))
    assert _read(path, LogQuery(since=NOW - dt.timedelta(minutes=5))) == b""
    assert _read(path, LogQuery(since=NOW - dt.timedelta(hours=2))) == b"old\n"


def test_follow_sends_new_output_until_the_run_ends(tmp_path: Path) -> None:
    path = _log(tmp_path, "first\n")
    live = threading.Event()
    live.set()
    chunks = containerlogs.stream(path, LogQuery(follow=True), live.is_set, threading.Event())
    assert next(chunks) == b"first\n"
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(chunks))
    reader.start()
    with open(path, "a") as handle:
        handle.write("second\n")
    with open(path, "a") as handle:
        handle.write("last\n")
    live.clear()  # the run ended: what it wrote is still sent, then the stream ends
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert b"".join(received) == b"second\nlast\n"


def test_follow_ends_when_the_node_stops(tmp_path: Path) -> None:
    path = _log(tmp_path, "")
    stopped = threading.Event()
    chunks = containerlogs.stream(path, LogQuery(follow=True), lambda: True, stopped)
    reader = threading.Thread(target=lambda: list(chunks))
    reader.start()
    stopped.set()
    reader.join(timeout=10)
    assert not reader.is_alive()


def test_runs_current_and_previous(tmp_path: Path) -> None:
    container = tmp_path / "main"
    container.mkdir()
    for restart in (0, 1, 10):
        (container / f"{restart}.log").write_text(f"run {restart}\n")
    (container / "termination-log").write_text("")
    files = containerlogs.runs(container)
    assert [f.name for f in files] == ["0.log", "1.log", "10.log"]
    assert containerlogs.select_run(files, "p", "main", previous=False).name == "10.log"
    assert containerlogs.select_run(files, "p", "main", previous=True).name == "1.log"
    with pytest.raises(LogRequestError, match='previous terminated container "main" in pod "p" not found'):
        containerlogs.select_run(files[:1], "p", "main", previous=True)
    with pytest.raises(LogRequestError, match="is waiting to start"):
        containerlogs.select_run([], "p", "main", previous=False)


def test_pod_dir_prefers_the_running_pods_uid(tmp_path: Path) -> None:
    older, newer = tmp_path / "ns_web-0_uid-a", tmp_path / "ns_web-0_uid-b"
    older.mkdir()
    newer.mkdir()
    (tmp_path / "ns_web-01_uid-c").mkdir()  # another pod whose name starts alike
    os.utime(older, (1, 1))
    assert containerlogs.pod_dir(tmp_path, "ns", "web-0", "uid-a") == older
    assert containerlogs.pod_dir(tmp_path, "ns", "web-0", None) == newer
    assert containerlogs.pod_dir(tmp_path, "ns", "web-0", "uid-x") is None
    assert containerlogs.pod_dir(tmp_path, "ns", "db-0", None) is None


def test_node_advertises_the_kubelet_port(tmp_path: Path) -> None:
    config = NodeConfig(kubeconfig=tmp_path / "kc")
    assert registration.node_static_status(config, "v1")["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    status = registration.node_static_status(config, "v1", kubelet_port=10250)
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}

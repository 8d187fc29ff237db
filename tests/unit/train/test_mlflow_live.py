"""The live MLflow run (kubetune.train.tracking.mlflow_live): the training thread's ``record`` never waits on
the server, and an unreachable or hanging server ends as a TrackingError at the end, never inside a step."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from kubetune.train.tracking.mlflow_live import LiveRun, metric_entries
from kubetune.train.tracking.mlflow_rest import TrackingError


def _live(uri: str, **kwargs: float) -> LiveRun:
    return LiveRun(uri, "exp", "run", params={"method": "lora"}, tags={}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """Accepts TCP connections (the kernel's backlog) and never answers a request."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


def test_metric_entries_keep_finite_numbers_at_their_step() -> None:
    entries = metric_entries([({"step": 3, "loss": 1.5, "epoch": 1, "note": "x", "bad": float("nan"),
                                "flag": True}, 42)])
    assert entries == [{"key": "loss", "value": 1.5, "timestamp": 42, "step": 3},
                       {"key": "epoch", "value": 1.0, "timestamp": 42, "step": 3}]


def test_an_unreachable_server_fails_at_finish_not_at_record(closed_port: int) -> None:
    live = _live(f"http://127.0.0.1:{closed_port}", flush_seconds=0.05).start([{"step": 0, "loss": 9.0}])
    for step in range(1, 201):
        live.record({"step": step, "loss": 1.0 / step})
    with pytest.raises(TrackingError, match="experiments/get-by-name"):
        live.finish([])
    assert live.run_id is None and live.error is not None and "get-by-name" in live.error
    assert len(metric_entries(live._records)) == 201  # every record kept for a later attempt


def test_a_hanging_server_never_blocks_the_training_thread(silent_server: socket.socket) -> None:
    port = silent_server.getsockname()[1]
    live = _live(f"http://127.0.0.1:{port}", flush_seconds=0.05, batch=1, timeout=600).start()
    for step in range(1, 501):  # each would wake the thread; none may wait for it
        live.record({"step": step, "loss": 1.0})
    assert live.run_id is None and live._thread.is_alive()  # still stuck in its first request
    with pytest.raises(TrackingError, match="did not answer"):
        live.finish([], wait=0.2)
    silent_server.close()  # the stuck request fails now; abort() then returns without raising
    live.abort(wait=30)
    assert not live._thread.is_alive() and live.run_id is None

"""Stop sequences over a stream of text deltas."""

from __future__ import annotations

import pytest

from kubetune.serve.stops import StopScanner, cut_at_stop

pytestmark = pytest.mark.unit


def test_cut_at_the_earliest_stop() -> None:
    assert cut_at_stop("a b END c STOP", ["STOP", "END"]) == ("a b ", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)


def test_a_stop_string_split_across_deltas_is_never_sent() -> None:
    scanner = StopScanner(["END"])
    sent = "".join(scanner.feed(delta) for delta in ["hel", "lo E", "N", "D more"])
    assert sent == "hello "
    assert scanner.stopped
    assert scanner.flush() == ""


def test_without_a_stop_everything_is_sent() -> None:
    scanner = StopScanner(["END"])
    sent = "".join(scanner.feed(delta) for delta in ["one ", "two E"]) + scanner.flush()
    assert sent == "one two E"
    assert not scanner.stopped

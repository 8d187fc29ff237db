"""The failure reason lands where the pod's node reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.train.runner import TERMINATION_PATH_ENV, write_termination_log


def test_termination_log_goes_to_the_configured_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TERMINATION_PATH_ENV, raising=False)
    target = tmp_path / "termination-log"
    write_termination_log(str(target), ValueError("dataset line 3:\nbad json"))
    assert target.read_text() == "ValueError: dataset line 3: bad json\n"


def test_node_provided_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node_path = tmp_path / "from-node"
    monkeypatch.setenv(TERMINATION_PATH_ENV, str(node_path))
    configured = tmp_path / "configured"
    write_termination_log(str(configured), RuntimeError("out of memory"))
    assert node_path.read_text() == "RuntimeError: out of memory\n"
    assert not configured.exists()

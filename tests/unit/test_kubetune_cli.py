"""`kubetune dev up` prints what a client needs, the default Trainers included."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kubetune import cli
from kubetune.localdev import platform as platform_module

pytestmark = pytest.mark.unit


def test_dev_up_prints_the_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    started: dict[str, Any] = {}

    @contextlib.contextmanager
    def fake_start(work_dir: Path, gpus: int = 0, mlflow: bool = False) -> Iterator[Any]:
        started.update(work_dir=work_dir, gpus=gpus, mlflow=mlflow)
        yield SimpleNamespace(mlflow_url=None,
            api_url="http://127.0.0.1:1234", admin_token=lambda: "tok", admin_username="admin",
            admin_password="pw", control_plane=SimpleNamespace(kubeconfig=tmp_path / "kubeconfig"),
            artifacts=tmp_path / "artifacts", trainers=("lora", "qlora", "full"))

    stopped = threading.Event()
    stopped.set()  # as if SIGTERM arrived at once
    monkeypatch.setattr(platform_module.LocalPlatform, "start", fake_start)
    monkeypatch.setattr(cli, "_stop_on_sigterm", lambda: stopped)

    assert cli.main(["dev", "up", "--work-dir", str(tmp_path), "--gpus", "2"]) == 0
    assert started == {"work_dir": tmp_path.resolve(), "gpus": 2, "mlflow": False}
    out = capsys.readouterr().out
    assert "API:         http://127.0.0.1:1234" in out
    assert "admin token: tok" in out
    assert "trainers:    lora, qlora, full" in out
    assert out.rstrip().endswith("stopping")

"""A trainer pod's log tells the run's story: no request line per status patch, no progress bars."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.train import quiet

pytestmark = pytest.mark.unit


def _kubeconfig(path: Path, url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake", "user": {"token": "t"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}))
    return path


def test_the_pod_log_has_no_request_lines_or_bars(tiny_lm: Path, chat_data: Path, tmp_path: Path,
                                                  server: Any) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({
        "training": {"namespace": "team-a", "name": "run-1"},
        "baseModel": f"file://{tiny_lm}",
        "dataset": {"uri": str(chat_data), "format": "openai_chat_jsonl"},
        "output": f"file://{tmp_path / 'out'}",
        "hyperparameters": {"maxSteps": 4, "batchSize": 4, "saveSteps": 2, "loggingSteps": 1},
        "reporting": {"intervalSeconds": 0.0, "terminationLog": str(tmp_path / "termination-log")}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TQDM", "HF_", "KUBERNETES_"))}
    env["KUBECONFIG"] = str(_kubeconfig(tmp_path / "kubeconfig", server.url))
    done = subprocess.run([sys.executable, "-m", "kubetune.train.cli", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    patches = [r for r in server.requests if r.method == "PATCH"]
    assert len(patches) >= 4  # the status was reported, every step...
    assert "HTTP Request" not in log  # ...without a line per request
    assert "it/s]" not in log and "%|" not in log  # no tqdm bars (loading weights, checkpoints)
    assert "torch.distributed is disabled" not in log
    assert "kubetune.train" in log and "done:" in log  # the run's own story is still there


def test_a_terminal_keeps_its_bars_and_the_trainers_env_wins() -> None:
    env: dict[str, str] = {"TQDM_DISABLE": "0"}
    quiet.configure("info", environ=env, interactive=False)
    assert env["TQDM_DISABLE"] == "0" and env["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert logging.getLogger("httpx").level == logging.WARNING
    by_hand: dict[str, str] = {}
    quiet.configure("info", environ=by_hand, interactive=True)
    assert by_hand == {}

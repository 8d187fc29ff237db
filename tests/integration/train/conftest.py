"""Fixtures for trainer runs as real processes: a tiny Llama, a memorisable dataset, a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from train_processes import start_cli, write_config

from kubetune.testing.chat_data import memorisable_chat_jsonl


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetune.testing.tiny import make_tiny_causal_lm

    return make_tiny_causal_lm(tmp_path_factory.mktemp("models") / "llama")


@pytest.fixture(scope="session")
def memorisable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text(memorisable_chat_jsonl())
    return path


@pytest.fixture
def train_cli(tmp_path: Path) -> Callable[[dict], int]:
    """Run the CLI to its end; returns the exit code (the log is printed on failure by pytest)."""

    def run(config: dict) -> int:
        name = Path(config["output"]).name
        log = tmp_path / f"{name}.log"
        process = start_cli(write_config(config, tmp_path / f"{name}.json"), log)
        code = process.wait(timeout=900)
        print(log.read_text(errors="replace")[-6000:])
        return code

    return run

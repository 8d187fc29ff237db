"""SIGTERM (a stopped Training, a drained node) ends a run with a checkpoint of the step in flight,
in one process and in two (the signal goes to the launcher, as the kubelet sends it to the pod's
first process); the resumed run continues at the next step."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from train_processes import logged_steps, run_config, start_cli, wait_until, write_config

from kubetune.crd.exit_codes import EXIT_STOPPED
from kubetune.train.checkpoint import list_checkpoints

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_checkpoints_the_step_in_flight_and_resume_continues_there(
    tiny_llama: Path, memorisable: Path, tmp_path: Path, train_cli: Callable[[dict], int], processes: int
) -> None:
    out = tmp_path / "out"
    hp = {"batchSize": 4 // processes, "maxSteps": 5000, "learningRate": 1e-3}
    config = run_config(tiny_llama, memorisable, out, distributed={"processesPerNode": processes}, **hp)
    process = start_cli(write_config(config, tmp_path / "run.json"), tmp_path / "stopped.log")
    try:
        wait_until(lambda: len(logged_steps(out)) >= 3, process)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    print((tmp_path / "stopped.log").read_text(errors="replace")[-4000:])
    assert code == EXIT_STOPPED
    last = max(logged_steps(out))
    assert last < 5000
    checkpoints = list_checkpoints(out)
    assert [step for step, _ in checkpoints] == [last]  # no saveSteps: the stop wrote the only checkpoint
    saved = json.loads((checkpoints[0][1] / "state.json").read_text())
    assert saved["step"] == last and saved["world_size"] == processes
    assert not list((out / "checkpoints").glob(".tmp-*"))

    # The resumed run starts at the step after the stop: at most the step in flight is lost (here none).
    config["hyperparameters"]["maxSteps"] = last + 2
    assert train_cli(config) == 0
    assert logged_steps(out) == list(range(1, last + 3))

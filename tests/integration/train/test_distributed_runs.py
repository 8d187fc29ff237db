"""Two processes (CPU, gloo, torchrun's launcher) train like one process at the same global batch:
DDP for LoRA, FSDP2 for full fine-tuning; DCP checkpoints resume onto another world size (2 -> 1, 1 -> 2)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from train_processes import logged_losses, run_config

from kubetune.crd.exit_codes import EXIT_PERMANENT
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.runner import run

pytestmark = pytest.mark.integration

# Float sums run in another order on two ranks (and packed rows differ per rank): equal, not bit-equal.
TOLERANCE = {"rel": 2e-3, "abs": 2e-4}
STEPS, SAVE_AT = 6, 3


def _copy_checkpoint(source: Path, target: Path, step: int) -> None:
    name = f"step-{step:08d}"
    (target / "checkpoints").mkdir(parents=True)
    shutil.copytree(source / "checkpoints" / name, target / "checkpoints" / name)


@pytest.mark.parametrize(
    ("method", "strategy", "learning_rate"), [("lora", "ddp", 1e-2), ("full", "fsdp", 3e-3)], ids=["ddp", "fsdp"]
)
def test_two_processes_match_one_and_resume_across_world_sizes(
    tiny_llama: Path,
    memorisable: Path,
    tmp_path: Path,
    train_cli: Callable[[dict], int],
    method: str,
    strategy: str,
    learning_rate: float,
) -> None:
    hp = {"method": method, "learningRate": learning_rate, "maxSteps": STEPS, "saveSteps": SAVE_AT}
    two = {"strategy": strategy, "processesPerNode": 2}
    if strategy == "fsdp":  # recomputing activations in backward changes nothing in the numbers
        two["activationCheckpointing"] = True

    # One process, global batch 4: the reference curve.
    single = run(
        TrainRunConfig.model_validate(run_config(tiny_llama, memorisable, tmp_path / "one", batchSize=4, **hp))
    )
    # Two processes x batch 2: the same global batch, so the same examples per step.
    assert train_cli(run_config(tiny_llama, memorisable, tmp_path / "two", batchSize=2, distributed=two, **hp)) == 0
    assert logged_losses(tmp_path / "two") == pytest.approx(single.losses, **TOLERANCE)
    assert len(single.losses) == STEPS and single.losses[-1] < single.losses[0]

    checkpoint = tmp_path / "two" / "checkpoints" / f"step-{SAVE_AT:08d}"
    shards = sorted(p.name for p in (checkpoint / "dcp").iterdir())
    assert ".metadata" in shards and json.loads((checkpoint / "state.json").read_text())["world_size"] == 2
    if strategy == "fsdp":  # sharded: each rank wrote its own part of the weights and optimizer state
        assert {"__0_0.distcp", "__1_0.distcp"} <= set(shards)
    artifact = (
        tmp_path / "two" / ("model/model.safetensors" if method == "full" else "adapter/adapter_model.safetensors")
    )
    assert artifact.is_file()  # gathered and written once, by rank 0

    # 2 -> 1: the two-process checkpoint continues in one process, on the reference curve.
    _copy_checkpoint(tmp_path / "two", tmp_path / "two-to-one", SAVE_AT)
    resumed = run(
        TrainRunConfig.model_validate(run_config(tiny_llama, memorisable, tmp_path / "two-to-one", batchSize=4, **hp))
    )
    assert resumed.losses == pytest.approx(single.losses[SAVE_AT:], **TOLERANCE)

    # 1 -> 2: the one-process checkpoint continues in two processes, on the same curve.
    _copy_checkpoint(tmp_path / "one", tmp_path / "one-to-two", SAVE_AT)
    config = run_config(tiny_llama, memorisable, tmp_path / "one-to-two", batchSize=2, distributed=two, **hp)
    assert train_cli(config) == 0
    assert logged_losses(tmp_path / "one-to-two") == pytest.approx(single.losses[SAVE_AT:], **TOLERANCE)


def test_a_permanent_failure_keeps_its_exit_code_through_the_launcher(
    tiny_llama: Path, memorisable: Path, tmp_path: Path, train_cli: Callable[[dict], int]
) -> None:
    # torchrun itself would exit 1; the launcher passes the ranks' code on for the podFailurePolicy.
    config = run_config(tiny_llama, memorisable, tmp_path / "bad", maxSeqLength=1_000_000, maxSteps=1)
    config["distributed"] = {"processesPerNode": 2}
    assert train_cli(config) == EXIT_PERMANENT
    assert "exceeds the model's" in (tmp_path / "bad-termination-log").read_text()


def test_fewer_packed_sequences_than_processes_fail_at_once(
    tiny_llama: Path, memorisable: Path, tmp_path: Path, train_cli: Callable[[dict], int]
) -> None:
    # Eight short chats pack into one 512-token sequence: no step could give both processes an example.
    # Before, every epoch came out empty and the ranks spun at step 0 until the Job's deadline.
    config = run_config(tiny_llama, memorisable, tmp_path / "packed", packing=True, maxSeqLength=512, maxSteps=2)
    config["distributed"] = {"processesPerNode": 2}
    assert train_cli(config) == EXIT_PERMANENT
    message = (tmp_path / "packed-termination-log").read_text()
    assert "fewer than the 2 processes" in message and "packing" in message


def test_qlora_replicas_over_4_bit_bases_match_one_process(
    tiny_llama: Path, memorisable: Path, tmp_path: Path, train_cli: Callable[[dict], int]
) -> None:
    hp = {"method": "qlora", "maxSteps": 3}
    single = run(
        TrainRunConfig.model_validate(run_config(tiny_llama, memorisable, tmp_path / "one", batchSize=4, **hp))
    )
    two = run_config(tiny_llama, memorisable, tmp_path / "two", batchSize=2, distributed={"processesPerNode": 2}, **hp)
    assert train_cli(two) == 0
    assert logged_losses(tmp_path / "two") == pytest.approx(single.losses, **TOLERANCE)
    assert (tmp_path / "two" / "adapter" / "adapter_model.safetensors").is_file()

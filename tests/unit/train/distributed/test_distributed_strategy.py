"""Strategy choices that need no second process: precision, activation checkpointing, one process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kubetune.crd.runconfig import RunDistributed
from kubetune.train.distributed.strategy import compute_precision, prepare
from kubetune.train.distributed.world import World

pytestmark = pytest.mark.unit


def test_precision_follows_the_setting_and_the_device() -> None:
    cpu = torch.device("cpu")
    assert compute_precision("no", cpu) is None
    assert compute_precision("bf16", cpu) is torch.bfloat16
    assert compute_precision("auto", cpu) is None  # auto: bf16 only where a GPU has it


def test_one_process_runs_the_module_itself_with_activation_checkpointing(tiny_lm: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_lm)
    prepared = prepare(model, model, RunDistributed(activation_checkpointing=True), World(device=torch.device("cpu")))
    assert prepared.module is model and prepared.strategy == "single" and prepared.autocast_dtype is None
    assert model.is_gradient_checkpointing
    with prepared.accumulating(sync=False):  # nothing to hold back with one process
        loss = model(input_ids=torch.tensor([[1, 2, 3, 4]]), labels=torch.tensor([[1, 2, 3, 4]])).loss
        loss.backward()
    assert prepared.clip_grad_norm(1.0) > 0

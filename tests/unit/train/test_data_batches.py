"""Packing, collation, seeded batching and splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.crd.runconfig import RunDataset, TrainRunConfig
from kubetune.train.chat_tokens import IGNORE_INDEX
from kubetune.train.data import Batches, collate, load_splits, pack
from kubetune.train.runner import run

pytestmark = pytest.mark.unit


def test_pack_restarts_positions_and_masks_boundaries() -> None:
    a = {"input_ids": [1, 2, 3], "labels": [1, 2, 3]}
    b = {"input_ids": [4, 5, 6, 7], "labels": [IGNORE_INDEX, 5, 6, 7]}
    c = {"input_ids": [8, 9], "labels": [8, 9]}
    rows = pack([a, b, c], max_length=8)
    assert rows[0] == {
        "input_ids": [1, 2, 3, 4, 5, 6, 7],
        "labels": [IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5, 6, 7],
        "position_ids": [0, 1, 2, 0, 1, 2, 3],
    }
    assert rows[1] == {"input_ids": [8, 9], "labels": [IGNORE_INDEX, 9], "position_ids": [0, 1]}


def test_collate_pads_right_and_ignores_padding() -> None:
    batch = collate(
        [{"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]}, {"input_ids": [8], "labels": [8]}], pad_id=0
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]


def test_batches_are_seeded_per_epoch() -> None:
    batches = Batches(size=10, batch_size=3, seed=5)
    first, second = batches.epoch(0), batches.epoch(1)
    assert len(batches) == 4 and [len(b) for b in first] == [3, 3, 3, 1]
    assert sorted(i for b in first for i in b) == list(range(10))
    assert first != second
    assert Batches(size=10, batch_size=3, seed=5).epoch(0) == first


def test_validation_fraction_is_a_seeded_holdout(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": str(i % 2)}) + "\n" for i in range(20)))
    dataset = RunDataset(uri=str(path), format="text_classification", validation_fraction=0.25)
    one, two = load_splits(dataset, seed=1), load_splits(dataset, seed=1)
    assert len(one.train) == 15 and len(one.validation) == 5
    assert one.validation == two.validation
    assert not {r.text for r in one.train} & {r.text for r in one.validation}  # type: ignore[union-attr]


def test_packed_causal_training_runs(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    config = TrainRunConfig.model_validate(
        {
            "baseModel": str(tiny_lm),
            "output": str(tmp_path),
            "dataset": {"uri": str(chat_data), "format": "openai_chat_jsonl"},
            "hyperparameters": {
                "packing": True,
                "maxSeqLength": 128,
                "batchSize": 2,
                "maxSteps": 4,
                "learningRate": 1e-2,
            },
        }
    )
    result = run(config)
    assert len(result.losses) == 4 and all(loss > 0 for loss in result.losses)


def test_packed_examples_do_not_attend_to_each_other(tiny_lm: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from kubetune.train.loop import model_inputs

    model = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    a = {"input_ids": [5, 6, 7, 8], "labels": [5, 6, 7, 8]}
    b = {"input_ids": [9, 10, 11], "labels": [9, 10, 11]}
    packed = model_inputs(collate(pack([a, b], max_length=16), pad_id=0), causal=True)
    assert "attention_mask" not in packed
    with torch.no_grad():
        together = model(**packed).logits[0, 4:]
        alone = model(input_ids=torch.tensor([b["input_ids"]])).logits[0]
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize(("size", "batch", "world", "shared"), [
    (8, 16, 4, 1),   # one short batch, two examples per rank
    (3, 16, 4, 0),   # fewer examples than ranks: no step at all
    (20, 8, 4, 3),   # two full batches and a tail of 4
    (19, 8, 4, 2),   # a tail of 3 cannot feed 4 ranks: dropped
    (5, 4, 1, 2),    # one process keeps every tail
])
def test_batches_shared_by_a_world_match_the_epochs(size: int, batch: int, world: int, shared: int) -> None:
    batches = Batches(size, batch, seed=1)
    assert batches.shared_by(world) == shared
    for epoch in range(3):
        assert len([b for b in batches.epoch(epoch) if len(b) >= world]) == shared

"""The supervised-positions loss equals the model's own loss and gradients; packed batches equal padded."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train import lm_loss
from kubetune.train.chat_tokens import IGNORE_INDEX
from kubetune.train.data import collate, collate_packed, pack_batch
from kubetune.train.loop import model_inputs
from kubetune.train.runner import run

pytestmark = pytest.mark.unit


def _examples() -> list[dict[str, list[int]]]:
    # Prompts without labels, completions with them, lengths that leave padding in a padded batch.
    spec = [(5, 7), (12, 3), (2, 9), (20, 8)]
    out = []
    for n, (prompt, answer) in enumerate(spec):
        ids = [(7 * n + 3 * i) % 60 + 10 for i in range(prompt + answer)]
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return out


def _model(tiny_lm: Path, method: str, targets: list[str] | None = None) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model: Any = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    if method == "lora":
        lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets or "all-linear")
        model = get_peft_model(model, lora)
        for name, param in model.named_parameters():  # non-zero B, so that adapter gradients differ from zero
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.02)
    return model.train()


def _grads(model: Any) -> dict[str, Any]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}


def _own_loss_and_grads(model: Any, batch: dict[str, Any], items: int) -> tuple[float, dict[str, Any]]:
    model.zero_grad()
    loss = model(**model_inputs(batch, causal=True), num_items_in_batch=items).loss
    loss.backward()
    return float(loss.detach()), _grads(model)


def _supervised_loss_and_grads(model: Any, batch: dict[str, Any], items: int) -> tuple[float, dict[str, Any]]:
    model.zero_grad()
    loss = lm_loss.supervised_loss(model)(**model_inputs(batch, causal=True), num_items_in_batch=items)
    loss.backward()
    return float(loss.detach()), _grads(model)


def _assert_same(one: tuple[float, dict[str, Any]], two: tuple[float, dict[str, Any]]) -> None:
    import torch

    assert one[0] == pytest.approx(two[0], abs=1e-5)
    assert one[1].keys() == two[1].keys() and one[1]
    for name, grad in one[1].items():
        assert torch.allclose(grad, two[1][name], rtol=1e-4, atol=1e-6), name


def _items(batch: dict[str, Any]) -> int:
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


@pytest.mark.parametrize("method", ["lora", "full"])
def test_supervised_loss_equals_the_models_own_loss_and_grads(tiny_lm: Path, method: str) -> None:
    model = _model(tiny_lm, method)
    assert lm_loss.supports_supervised_loss(model)
    batch = collate(_examples(), pad_id=0)
    items = _items(batch)
    _assert_same(_own_loss_and_grads(model, batch, items), _supervised_loss_and_grads(model, batch, items))


def test_lora_on_the_lm_head_is_applied_to_the_selected_positions(tiny_lm: Path) -> None:
    model = _model(tiny_lm, "lora", targets=["q_proj", "v_proj", "lm_head"])
    batch = collate(_examples(), pad_id=0)
    own, supervised = _own_loss_and_grads(model, batch, 20), _supervised_loss_and_grads(model, batch, 20)
    assert any("lm_head.lora_B" in name for name in own[1])
    _assert_same(own, supervised)


def test_chunked_head_gives_the_same_loss_and_grads(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(tiny_lm, "full")
    batch = collate(_examples(), pad_id=0)
    whole = _supervised_loss_and_grads(model, batch, _items(batch))
    # Chunks of 3 positions: the supervised positions take 8 chunks, each recomputed in backward.
    monkeypatch.setattr(lm_loss, "CHUNK_LOGITS", 3 * model.config.vocab_size)
    _assert_same(whole, _supervised_loss_and_grads(model, batch, _items(batch)))


def test_packed_batch_gives_the_padded_batchs_loss_and_grads(tiny_lm: Path) -> None:
    model = _model(tiny_lm, "lora")
    padded = collate(_examples(), pad_id=0)
    packed = collate_packed(_examples(), pad_id=0, max_length=40)
    assert packed["input_ids"].numel() < padded["input_ids"].numel()
    assert _items(packed) == _items(padded)
    _assert_same(
        _own_loss_and_grads(model, padded, _items(padded)), _supervised_loss_and_grads(model, packed, _items(packed))
    )


def test_pack_batch_keeps_every_example_within_the_row_length() -> None:
    examples = _examples()
    rows = pack_batch(examples, max_length=40)
    assert len(rows) == 2 and all(len(r["input_ids"]) <= 40 for r in rows)
    pieces = []
    for row in rows:
        starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["input_ids"])]
        for a, b in itertools.pairwise(starts):
            assert row["labels"][a] == IGNORE_INDEX  # no loss across the boundary
            pieces.append(row["input_ids"][a:b])
    assert sorted(pieces) == sorted(e["input_ids"] for e in examples)


def test_heads_that_do_more_than_a_projection_keep_the_models_forward() -> None:
    def fake(model_type: str, **config: Any) -> Any:
        head = object()
        inner = SimpleNamespace(
            config=SimpleNamespace(model_type=model_type, **config),
            get_decoder=lambda: object(),
            get_output_embeddings=lambda: head,
        )
        return SimpleNamespace(get_base_model=lambda: inner)

    assert lm_loss.supports_supervised_loss(fake("llama"))
    assert not lm_loss.supports_supervised_loss(fake("gemma2", final_logit_softcapping=30.0))
    assert not lm_loss.supports_supervised_loss(fake("granite"))
    assert not lm_loss.supports_supervised_loss(fake("bert"))
    assert not lm_loss.supports_supervised_loss(fake("mistral", output_router_logits=True))


def _run_config(model: Path, data: Path, out: Path, **extra: Any) -> TrainRunConfig:
    return TrainRunConfig.model_validate(
        {
            "baseModel": str(model),
            "dataset": {"uri": str(data), "format": "openai_chat_jsonl"},
            "output": str(out),
            "resume": "none",
            "hyperparameters": {
                "batchSize": 4,
                "gradientAccumulationSteps": 2,
                "learningRate": 1e-2,
                "maxSteps": 4,
                "loraDropout": 0.0,
                "seed": 3,
                "extra": extra,
            },
        }
    )


def test_fast_run_matches_the_padded_full_logits_run(tiny_lm: Path, chat_data: Path, tmp_path: Path) -> None:
    fast = run(_run_config(tiny_lm, chat_data, tmp_path / "fast"))
    plain = run(_run_config(tiny_lm, chat_data, tmp_path / "plain", padding_free=False, supervised_loss=False))
    assert len(fast.losses) == 4
    assert fast.losses == pytest.approx(plain.losses, rel=1e-4, abs=1e-5)
    assert fast.losses[-1] < fast.losses[0]


def test_padding_free_batches_only_for_causal_lms_that_keep_packed_rows_apart(tmp_path: Path) -> None:
    from kubetune.train.data import collate as padded_collate
    from kubetune.train.modeling import Loaded
    from kubetune.train.runner import make_collate

    def collate_of(task: str, model_type: str, **extra: Any) -> Any:
        config = TrainRunConfig.model_validate(
            {
                "task": task,
                "baseModel": "/m",
                "dataset": {"uri": "/d.jsonl", "format": "openai_chat_jsonl"},
                "output": str(tmp_path),
                "hyperparameters": {"extra": extra},
            }
        )
        model = SimpleNamespace(config=SimpleNamespace(model_type=model_type))
        return make_collate(config, Loaded(model=model, processor=SimpleNamespace(pad_token_id=0))).func

    assert collate_of("causal-lm", "llama") is collate_packed
    assert collate_of("causal-lm", "llama", padding_free=False) is padded_collate
    assert collate_of("causal-lm", "gpt2") is padded_collate
    assert collate_of("sequence-classification", "llama") is padded_collate

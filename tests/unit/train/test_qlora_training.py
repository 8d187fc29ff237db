"""QLoRA for real on CPU: bitsandbytes (0.48+) packs the base weights as NF4 there too.

The run goes through the trainer as the LoRA and full tests do; what the trainer loaded is captured
by wrapping ``modeling.load``, so the 4-bit checks look at the very model that trained.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train import modeling
from kubetune.train.runner import run

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(
        modeling.qlora_available() is not None, reason=f"no 4-bit backend here: {modeling.qlora_available()}"
    ),
]


def _config(model: Path, data: Path, out: Path) -> TrainRunConfig:
    return TrainRunConfig.model_validate(
        {
            "baseModel": str(model),
            "method": "qlora",
            "dataset": {"uri": f"file://{data}", "format": "openai_chat_jsonl"},
            "output": str(out),
            "hyperparameters": {"batchSize": 8, "learningRate": 1e-2, "maxSteps": 30, "seed": 7},
        }
    )


def _base_linears(model: Any) -> dict[str, Any]:
    """The linear layers LoRA wrapped, by name: what sits under each adapter."""
    return {name: module.base_layer for name, module in model.named_modules() if hasattr(module, "lora_A")}


def _chat_loss(model: Any, tokenizer: Any, data: Path) -> float:
    import torch

    rows = [json.loads(line)["messages"] for line in data.read_text().splitlines()]
    texts = [tokenizer.apply_chat_template(messages, tokenize=False) for messages in rows]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        return float(model(**batch, labels=labels).loss)


def test_qlora_trains_lora_over_packed_4bit_weights(
    tiny_lm: Path, chat_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from bitsandbytes.nn.modules import Linear4bit, Params4bit
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded: list[modeling.Loaded] = []
    packed_at_load: dict[str, torch.Tensor] = {}
    real_load = modeling.load

    def capture(*args: Any, **kwargs: Any) -> modeling.Loaded:
        loaded.append(real_load(*args, **kwargs))
        for name, layer in _base_linears(loaded[-1].model).items():
            packed_at_load[name] = layer.weight.detach().clone()
        return loaded[-1]

    monkeypatch.setattr(modeling, "load", capture)
    result = run(_config(tiny_lm, chat_data, tmp_path / "out"))
    model = loaded[0].model

    # Every attention and MLP projection is a bitsandbytes 4-bit layer holding NF4 codes, two per byte.
    bases = _base_linears(model)
    assert len(bases) == 2 * 7, sorted(bases)  # 2 layers x (q, k, v, o, gate, up, down)
    for name, layer in bases.items():
        assert isinstance(layer, Linear4bit), (name, type(layer))
        assert isinstance(layer.weight, Params4bit) and layer.weight.dtype == torch.uint8, name
        assert layer.weight.numel() * 2 == layer.in_features * layer.out_features, name
        assert layer.weight.quant_state.quant_type == "nf4" and layer.weight.quant_state.nested, name
        assert not layer.weight.requires_grad, name
    # Only the adapters trained; the packed base is byte for byte what was loaded.
    assert packed_at_load.keys() == bases.keys()
    assert all(torch.equal(bases[name].weight, packed) for name, packed in packed_at_load.items())
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable), sorted(trainable)[:5]

    assert len(result.losses) == 30
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < 0.9 * first, result.losses

    adapter = tmp_path / "out" / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    assert not (adapter / "adapter_model.bin").exists()
    # The adapter is plain LoRA weights: it loads onto the unquantized float32 base and helps there too.
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    before = _chat_loss(base, tokenizer, chat_data)
    tuned = PeftModel.from_pretrained(base, adapter)
    assert not any(isinstance(m, Linear4bit) for m in tuned.modules())
    after = _chat_loss(tuned, tokenizer, chat_data)
    assert after < 0.95 * before, (before, after)


def test_qlora_names_why_bitsandbytes_cannot_quantize(monkeypatch: pytest.MonkeyPatch) -> None:
    from bitsandbytes import functional

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("no kernel for this device")

    monkeypatch.setattr(functional, "quantize_4bit", broken)
    reason = modeling.qlora_available()
    assert reason is not None
    assert "cannot quantize to 4-bit on" in reason and "no kernel for this device" in reason

"""Load the base model for a task and set up the method: LoRA, QLoRA (4-bit base) or full."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import TrainRunConfig

# LoRA wraps every linear layer unless the config names modules: module names
# differ across architectures and transformers versions (ViT's query vs q_proj).
DEFAULT_TARGETS = "all-linear"
HEADS = ("classifier", "score")
# Decoders whose attention mask comes from transformers' create_causal_mask with the position ids:
# rows without a 2D mask whose positions restart get a block-diagonal mask, so examples packed into
# one row never attend to each other (checked against the transformers 5 modeling files).
PACKED_ROW_MODEL_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "olmo2", "smollm3", "granite", "cohere"}
)


@dataclass
class Loaded:
    """The trainable model and what turns data into its inputs."""

    model: Any
    processor: Any  # a tokenizer, or an image processor
    label2id: dict[str, int] | None = None


def _quant_device() -> str:
    """Where the 4-bit base weights live: the current CUDA GPU, else the CPU."""
    import torch

    return f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"


def qlora_available() -> str | None:
    """None when 4-bit QLoRA can run here, else the reason it cannot.

    bitsandbytes (0.50 pinned) quantizes on CUDA and on the CPU too (NF4 through torch custom ops), so
    the check is a real one: quantize and dequantize a small tensor on the device the model would use.
    """
    if importlib.util.find_spec("bitsandbytes") is None:
        return "qlora needs the bitsandbytes package (4-bit base weights), which is not installed in this image"
    device = _quant_device()
    try:
        import torch
        from bitsandbytes import functional

        probe = torch.linspace(-1.0, 1.0, 128, device=device)
        packed, state = functional.quantize_4bit(probe, quant_type="nf4", compress_statistics=True)
        restored = functional.dequantize_4bit(packed, state).flatten().float()
        # Two NF4 codes per byte; the widest NF4 step (0.72 to 1.0) bounds the rounding error.
        if (
            packed.dtype != torch.uint8
            or packed.numel() * 2 != probe.numel()
            or not torch.allclose(restored, probe, atol=0.2)
        ):
            return f"qlora: bitsandbytes returned wrong 4-bit values on {device}"
    except Exception as exc:  # a missing native library, an unsupported device or an old release
        return f"qlora: bitsandbytes cannot quantize to 4-bit on {device}: {type(exc).__name__}: {exc}"
    return None


def compute_dtype() -> Any:
    """bf16 where the GPU supports it, float32 otherwise (CPU, older GPUs)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _quantization(config: TrainRunConfig) -> dict[str, Any]:
    if config.method != "qlora":
        return {}
    reason = qlora_available()
    if reason:
        raise RuntimeError(reason)
    from transformers import BitsAndBytesConfig

    bnb = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(),
    )
    return {"quantization_config": bnb, "device_map": {"": _quant_device()}}


def label_maps(model_dir: Path, labels: list[str]) -> dict[str, int]:
    """Keep the checkpoint's label ids when the data's labels are among them, else number the data's."""
    from transformers import AutoConfig

    known = {str(k): int(v) for k, v in (AutoConfig.from_pretrained(model_dir).label2id or {}).items()}
    if known and set(labels) <= set(known) and not all(k.startswith("LABEL_") for k in known):
        return known
    return {label: i for i, label in enumerate(labels)}


def load(config: TrainRunConfig, model_dir: Path, labels: list[str] | None = None) -> Loaded:
    """The base model with the method applied, plus its tokenizer or image processor."""
    import torch
    import transformers

    extra = _quantization(config)
    # Full fine-tuning keeps float32 master weights (bf16 autocast does the compute): AdamW updates on
    # bf16 weights lose small steps. Adapters train in float32 anyway (peft upcasts them).
    dtype = compute_dtype() if config.method != "full" else torch.float32
    label2id: dict[str, int] | None = None
    if config.task == "causal-lm":
        processor = transformers.AutoTokenizer.from_pretrained(model_dir)
        if processor.pad_token_id is None:
            processor.pad_token = processor.eos_token
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, **extra)
    else:
        assert labels is not None
        label2id = label_maps(model_dir, labels)
        head = {
            "num_labels": len(label2id),
            "label2id": label2id,
            "id2label": {i: name for name, i in label2id.items()},
            "ignore_mismatched_sizes": True,
        }
        if config.task == "sequence-classification":
            processor = transformers.AutoTokenizer.from_pretrained(model_dir)
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                model_dir, dtype=dtype, **head, **extra
            )
        else:
            processor = transformers.AutoImageProcessor.from_pretrained(model_dir)  # type: ignore[no-untyped-call]
            model = transformers.AutoModelForImageClassification.from_pretrained(
                model_dir, dtype=dtype, **head, **extra
            )
    if config.adapter is not None:  # a chain: start from the parent Training's adapter
        return Loaded(model=_from_adapter(config, model), processor=processor, label2id=label2id)
    if config.method in ("lora", "qlora"):
        model = _apply_lora(config, model)
    return Loaded(model=model, processor=processor, label2id=label2id)


def _from_adapter(config: TrainRunConfig, model: Any) -> Any:
    """lora/qlora continue training the parent's adapter (its rank and targets are kept: the child's LoRA
    settings do not apply); full fine-tuning folds it into the weights and trains those."""
    from peft import PeftModel, prepare_model_for_kbit_training

    from kubetune.train import uris

    assert config.adapter is not None
    adapter = uris.resolve(config.adapter)
    if config.method == "full":
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)  # type: ignore[no-untyped-call]
    return PeftModel.from_pretrained(model, adapter, is_trainable=True)


def _apply_lora(config: TrainRunConfig, model: Any) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    hp = config.hyperparameters
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)  # type: ignore[no-untyped-call]
    task_type = {"causal-lm": TaskType.CAUSAL_LM, "sequence-classification": TaskType.SEQ_CLS}.get(config.task)
    heads = [name for name in HEADS if hasattr(model, name)] if config.task != "causal-lm" else None
    lora = LoraConfig(
        r=hp.lora_rank,
        lora_alpha=hp.lora_alpha,  # type: ignore[arg-type]  # peft annotates int; float scales fine
        lora_dropout=hp.lora_dropout,
        target_modules=hp.lora_target_modules or DEFAULT_TARGETS,
        # Classification heads are trained whole (new labels), never wrapped.
        exclude_modules=heads or None,
        task_type=task_type,
        modules_to_save=heads or None,
    )
    return get_peft_model(model, lora)


def supports_packed_rows(model: Any) -> bool:
    """Whether several examples may share a row of this (plain or peft-wrapped) causal LM."""
    from kubetune.train.lm_loss import causal_lm_of

    return getattr(getattr(causal_lm_of(model), "config", None), "model_type", None) in PACKED_ROW_MODEL_TYPES


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total

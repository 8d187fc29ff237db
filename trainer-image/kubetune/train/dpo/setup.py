"""What the runner calls for objective dpo: encode the splits into pairs, build the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.formats import DatasetError
from kubetune.train.distributed.stop import StopRequest
from kubetune.train.dpo.loop import DpoLoop, Notify
from kubetune.train.dpo.pairs import Pair, encode_pairs


def features(
    config: TrainRunConfig, tokenizer: Any, train: list[Any], validation: list[Any]
) -> tuple[list[Pair], list[Pair]]:
    """Both splits as token pairs; no pair left after truncation is a dataset error."""
    from kubetune.train.chat_tokens import ensure_chat_template

    ensure_chat_template(tokenizer)
    max_length = config.hyperparameters.max_seq_length
    pairs = encode_pairs(train, config.dataset, tokenizer, max_length=max_length)
    if not pairs:
        raise DatasetError("no preference pair keeps an answer token of both sides within maxSeqLength")
    return pairs, encode_pairs(validation, config.dataset, tokenizer, max_length=max_length) if validation else []


def build_loop(
    config: TrainRunConfig,
    loaded: Any,
    train: list[Pair],
    validation: list[Pair],
    output: Path,
    notify: Notify,
    stop: StopRequest | None = None,
) -> DpoLoop:
    """The loop on the loaded model (moved to the GPU when there is one)."""
    import torch

    from kubetune.train.modeling import supports_packed_rows

    if config.distributed.world_size > 1:
        raise ValueError("objective dpo runs in one process: set processesPerNode and nodes to 1")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = loaded.model
    if next(model.parameters()).device.type != device.type:  # qlora loads onto its device already
        model = model.to(device)
    hp = config.hyperparameters
    return DpoLoop(
        model=model,
        train_pairs=train,
        eval_pairs=validation,
        hp=hp,
        output=output,
        notify=notify,
        pad_id=getattr(loaded.processor, "pad_token_id", None) or 0,
        packed=bool(hp.extra.get("padding_free", True)) and supports_packed_rows(model),
        fresh_adapter=config.method != "full" and getattr(config, "adapter", None) is None,
        device=device,
        stop=stop or StopRequest(),
    )

"""Sequence classification: the text scorer behind seed 002's /infer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kubetune.serve.engines.base import Embedding, ModelRuntime, Score
from kubetune.serve.engines.torch_common import adapter_scope, attach_adapters, mean_pooled

# Labels that name the "positive" class of a binary classifier, whose probability is the score.
POSITIVE_LABELS = frozenset({"positive", "pos", "yes", "true", "good", "relevant", "1", "label_1"})


def positive_index(id2label: dict[int, str]) -> int | None:
    """The positive class of a binary head: a label that says so, else index 1; None for multi-class."""
    if len(id2label) != 2:
        return None
    for index, label in id2label.items():
        if str(label).strip().lower() in POSITIVE_LABELS:
            return int(index)
    return 1


def scores_from_logits(logits: torch.Tensor, id2label: dict[int, str]) -> list[Score]:
    """score: P(positive) for binary heads, P(top class) otherwise, sigmoid for one logit; confidence: P(top)."""
    logits = logits.float()
    if logits.shape[-1] == 1:
        probs = torch.sigmoid(logits[:, 0])
        return [Score(float(p), float(max(p, 1 - p)), None) for p in probs]
    probs = torch.softmax(logits, dim=-1)
    top_p, top_i = probs.max(dim=-1)
    positive = positive_index(id2label)
    # One conversion per column instead of several tensor indexings per row.
    scores = (probs[:, positive] if positive is not None else top_p).tolist()
    tops, indices = top_p.tolist(), top_i.tolist()
    return [
        Score(round(score, 6), round(top, 6), id2label.get(index, str(index)))
        for score, top, index in zip(scores, tops, indices, strict=True)
    ]


class SequenceClassifierRuntime(ModelRuntime):
    task = "sequence-classification"

    def __init__(self, model: Any, tokenizer: Any, device: str, max_input_tokens: int, adapters: list[str]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.adapters = adapters
        limit = getattr(model.config, "max_position_embeddings", None) or max_input_tokens
        self.max_length = min(max_input_tokens, int(limit))
        self.id2label = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}

    @classmethod
    def load(
        cls, path: Path, adapters: dict[str, Path], device: str, dtype: Any, max_input_tokens: int
    ) -> SequenceClassifierRuntime:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dtype)
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            # Decoder-based classifiers often ship without a pad token; batches need one, and the
            # head finds each row's last real token through pad_token_id.
            tokenizer.pad_token = tokenizer.eos_token
            model.config.pad_token_id = tokenizer.pad_token_id
        model = attach_adapters(model, adapters).to(device).eval()
        return cls(model, tokenizer, device, max_input_tokens, list(adapters))

    def score_texts(self, texts: list[str], adapter: str | None) -> list[Score]:
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            logits = self.model(**encoded).logits
        return scores_from_logits(logits, self.id2label)

    def embed_texts(self, texts: list[str], adapter: str | None) -> list[Embedding]:
        """Mean of the encoder's last hidden states (before the classification head) over each text."""
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            hidden = self.model(**encoded, output_hidden_states=True).hidden_states[-1]
        mask = encoded["attention_mask"]
        counts = mask.sum(dim=1).tolist()
        return [Embedding(vector, int(n)) for vector, n in zip(mean_pooled(hidden, mask), counts, strict=True)]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"])

    def after_out_of_memory(self) -> None:
        if self.device == "cuda":
            torch.cuda.empty_cache()

"""Image classification: the style classifier behind seed 002's /infer/image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kubetune.serve.engines.base import ImageClass, ModelRuntime
from kubetune.serve.engines.torch_common import adapter_scope, attach_adapters


class ImageClassifierRuntime(ModelRuntime):
    task = "image-classification"

    def __init__(self, model: Any, processor: Any, device: str, adapters: list[str]) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.adapters = adapters
        self.id2label = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}

    @classmethod
    def load(cls, path: Path, adapters: dict[str, Path], device: str, dtype: Any) -> ImageClassifierRuntime:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        processor = AutoImageProcessor.from_pretrained(path)  # type: ignore[no-untyped-call]
        model = AutoModelForImageClassification.from_pretrained(path, dtype=dtype)
        model = attach_adapters(model, adapters).to(device).eval()
        return cls(model, processor, device, list(adapters))

    def classify_images(self, images: list[Any], adapter: str | None, embeddings: bool) -> list[ImageClass]:
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"].to(self.device)
        dtype = next(self.model.parameters()).dtype
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            out = self.model(pixel_values=pixels.to(dtype), output_hidden_states=embeddings)
        probs = torch.softmax(out.logits.float(), dim=-1)
        top_p, top_i = probs.max(dim=-1)
        # The embedding is the mean of the last layer's token states: a fixed-size image vector.
        pooled = out.hidden_states[-1].float().mean(dim=1) if embeddings else None
        results = []
        for row in range(probs.shape[0]):
            label = self.id2label.get(int(top_i[row]), str(int(top_i[row])))
            vector = [round(float(v), 6) for v in pooled[row]] if pooled is not None else None
            results.append(ImageClass(label, round(float(top_p[row]), 6), vector))
        return results

    def after_out_of_memory(self) -> None:
        if self.device == "cuda":
            torch.cuda.empty_cache()

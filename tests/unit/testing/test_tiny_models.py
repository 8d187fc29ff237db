"""The tiny model factories save checkpoints that load back through the Auto classes and run."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_causal_lm_round_trips_with_chat_template(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kubetune.testing.tiny import IM_START, make_tiny_causal_lm

    path = make_tiny_causal_lm(tmp_path / "lm", vocab_size=300)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == f"{IM_START}user\nhi<|im_end|>\n{IM_START}assistant\n"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert tokenizer.decode(ids[0]) == text  # byte-level: lossless
    assert model(input_ids=ids).logits.shape == (1, ids.shape[1], len(tokenizer))
    assert tokenizer.pad_token_id is not None and tokenizer.eos_token_id != tokenizer.pad_token_id


def test_sequence_classifier_has_labels(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from kubetune.testing.tiny import make_tiny_sequence_classifier

    path = make_tiny_sequence_classifier(tmp_path / "bert", labels=("a", "b", "c"))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path)
    batch = tokenizer(["good movie", "bad"], padding=True, return_tensors="pt")
    assert model(**batch).logits.shape == (2, 3)
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}


def test_image_classifier_accepts_any_image_size(tmp_path: Path) -> None:
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from kubetune.testing.tiny import make_tiny_image_classifier

    path = make_tiny_image_classifier(tmp_path / "vit", image_size=16, patch_size=8)
    processor = AutoImageProcessor.from_pretrained(path)
    model = AutoModelForImageClassification.from_pretrained(path)
    pixels = processor(Image.new("RGB", (40, 25), (10, 200, 30)), return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, 16, 16)
    assert model(pixel_values=pixels).logits.shape == (1, 2)


def test_duplicate_labels_are_refused(tmp_path: Path) -> None:
    from kubetune.testing.tiny import make_tiny_image_classifier

    with pytest.raises(ValueError, match="distinct labels"):
        make_tiny_image_classifier(tmp_path / "vit", labels=("x", "x"))

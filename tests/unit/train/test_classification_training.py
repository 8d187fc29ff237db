"""Sequence and image classification on CPU: loss falls for LoRA and full; labels map onto the head."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.runconfig import TrainRunConfig
from kubetune.formats import DatasetError
from kubetune.train.runner import run

pytestmark = pytest.mark.unit

POSITIVE = ["I loved this movie", "What a wonderful film", "Great acting and a great story", "I really enjoyed it"]
NEGATIVE = ["I hated this movie", "What a terrible film", "Bad acting and a boring story", "I really disliked it"]


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetune.testing.tiny import make_tiny_sequence_classifier

    return make_tiny_sequence_classifier(tmp_path_factory.mktemp("m") / "bert")


@pytest.fixture(scope="module")
def vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetune.testing.tiny import make_tiny_image_classifier

    return make_tiny_image_classifier(tmp_path_factory.mktemp("m") / "vit", labels=("blue", "red"), image_size=16)


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("texts")
    rows = [{"text": t, "label": "positive"} for t in POSITIVE] + [{"text": t, "label": "negative"} for t in NEGATIVE]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::3]))
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    (root / "img").mkdir()
    rows = []
    for i in range(4):
        for label, colour in (("red", (200 + 10 * i, 20, 30)), ("blue", (20, 30 + 5 * i, 210))):
            name = f"img/{label}{i}.png"
            Image.new("RGB", (20 + i, 24), colour).save(root / name)
            rows.append({"image": name, "label": label})
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "data.jsonl"


def _config(task: str, model: Path, uri: str, fmt: str, out: Path, method: str, **extra: Any) -> TrainRunConfig:
    return TrainRunConfig.model_validate(
        {
            "task": task,
            "method": method,
            "baseModel": f"file://{model}",
            "output": str(out),
            "dataset": {"uri": uri, "format": fmt, **extra},
            "hyperparameters": {
                "batchSize": 8,
                "learningRate": 5e-3 if method == "full" else 1e-2,
                "maxSteps": 25,
                "seed": 3,
                "evalSteps": 25,
            },
        }
    )


def _falls(losses: list[float]) -> bool:
    return sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3


@pytest.mark.parametrize("method", ["lora", "full"])
def test_sequence_classifier_learns(bert: Path, texts: Path, tmp_path: Path, method: str) -> None:
    config = _config(
        "sequence-classification",
        bert,
        str(texts),
        "text_classification",
        tmp_path,
        method,
        validationSplit="validation",
    )
    result = run(config)
    assert _falls(result.losses), result.losses
    assert result.metrics["eval_accuracy"] == 1.0
    saved = json.loads((result.model_path / ("adapter_config.json" if method == "lora" else "config.json")).read_text())
    if method == "full":
        assert saved["id2label"] == {"0": "negative", "1": "positive"}


@pytest.mark.parametrize("method", ["lora", "full"])
def test_image_classifier_learns(vit: Path, images: Path, tmp_path: Path, method: str) -> None:
    config = _config(
        "image-classification", vit, str(images), "image_classification", tmp_path, method, validationFraction=0.25
    )
    result = run(config)
    assert _falls(result.losses), result.losses
    assert "eval_loss" in result.metrics


def test_unknown_validation_label_names_the_record(bert: Path, texts: Path, tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text((texts / "train.jsonl").read_text())
    (tmp_path / "validation.jsonl").write_text('{"text": "meh", "label": "positive"}\n{"text": "x", "label": "odd"}\n')
    config = _config(
        "sequence-classification",
        bert,
        str(tmp_path),
        "text_classification",
        tmp_path / "o",
        "lora",
        validationSplit="validation",
    )
    with pytest.raises(DatasetError, match=r"record 2: unknown label 'odd'"):
        run(config)

"""Dataset splits to encoded examples for each task, and deterministic batches.

Batches are index lists fixed by (seed, epoch), so the data position in a
checkpoint (epoch, batch within the epoch) restores the exact same stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.crd.references import InvalidReference, check_name
from kubetune.crd.runconfig import RunDataset
from kubetune.formats import (
    ChatExample,
    ClassificationExample,
    DatasetError,
    Example,
    ImageExample,
    read_records,
    render,
)
from kubetune.train.chat_tokens import IGNORE_INDEX, tokenize_chat
from kubetune.train.uris import resolve

SUFFIXES = (".jsonl", ".json")


@dataclass(frozen=True)
class Splits:
    """Parsed records of the training and (optional) validation split."""

    train: list[Example]
    validation: list[Example]
    root: Path  # the data file's directory: relative image paths resolve against it


def _split_file(base: Path, split: str) -> Path:
    try:  # a split is a name in the dataset's directory, never a path (../../other-project/...)
        check_name(split, "split name")
    except InvalidReference as exc:
        raise DatasetError(str(exc), source=str(base)) from exc
    for suffix in SUFFIXES:
        candidate = base / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    raise DatasetError(f"no file for split {split!r} (looked for {split}.jsonl / {split}.json)", source=str(base))


def split_files(uri: str, train_split: str, validation_split: str | None) -> tuple[Path, Path | None]:
    """A directory holds ``<split>.jsonl`` files; a file is the training split with siblings for others."""
    path = resolve(uri)
    base = path if path.is_dir() else path.parent
    train = _split_file(path, train_split) if path.is_dir() else path
    validation = _split_file(base, validation_split) if validation_split else None
    return train, validation


def load_splits(dataset: RunDataset, seed: int) -> Splits:
    """Parse both splits; a validation fraction holds out a seeded sample of the training split."""
    train_path, validation_path = split_files(dataset.uri, dataset.train_split, dataset.validation_split)
    train = read_records(train_path, dataset.format)
    validation = read_records(validation_path, dataset.format) if validation_path else []
    if not validation and dataset.validation_fraction:
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)  # noqa: S311 -- reproducible split, not security
        held = max(1, round(len(train) * dataset.validation_fraction))
        if held >= len(train):
            raise DatasetError("validation fraction leaves no training data", source=str(train_path))
        keep = set(order[held:])
        validation = [r for i, r in enumerate(train) if i not in keep]
        train = [r for i, r in enumerate(train) if i in keep]
    return Splits(train=train, validation=validation, root=train_path.parent)


def _require(records: list[Example], kind: type, task: str) -> None:
    for number, record in enumerate(records, start=1):
        if not isinstance(record, kind):
            raise DatasetError(f"record {number} is a {type(record).__name__}; task {task} needs {kind.__name__}")


def encode_chats(
    records: list[Example], dataset: RunDataset, tokenizer: Any, *, max_length: int, train_on_inputs: bool
) -> list[dict[str, list[int]]]:
    """Causal-LM features; examples left with no trainable token after truncation are dropped."""
    _require(records, ChatExample, "causal-lm")
    out = []
    for number, record in enumerate(records, start=1):
        assert isinstance(record, ChatExample)
        try:
            rendered = render(
                record,
                dataset.data_strategy,
                system_message=dataset.system_message,
                thinking_instructions=dataset.thinking_instructions,
            )
        except ValueError as exc:
            raise DatasetError(f"record {number}: {exc}", source=dataset.uri) from None
        tokens = tokenize_chat(tokenizer, rendered, max_length=max_length, train_on_inputs=train_on_inputs)
        if any(label != IGNORE_INDEX for label in tokens.labels[1:]):
            out.append({"input_ids": tokens.input_ids, "labels": tokens.labels})
    return out


def label_ids(records: list[Example], label2id: dict[str, int]) -> list[int]:
    """Each record's label index; an unknown label is a dataset error naming the record."""
    out = []
    for number, record in enumerate(records, start=1):
        assert isinstance(record, ClassificationExample | ImageExample)
        if record.label not in label2id:
            raise DatasetError(f"record {number}: unknown label {record.label!r}; known: {sorted(label2id)}")
        out.append(label2id[record.label])
    return out


def label_set(records: list[Example]) -> list[str]:
    """The labels of a classification split, sorted (integers numerically)."""
    labels = {r.label for r in records if isinstance(r, ClassificationExample | ImageExample)}
    if all(label.isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def encode_texts(
    records: list[Example], tokenizer: Any, label2id: dict[str, int], *, max_length: int
) -> list[dict[str, Any]]:
    """Sequence-classification features."""
    _require(records, ClassificationExample, "sequence-classification")
    ids = label_ids(records, label2id)
    out = []
    for record, label in zip(records, ids, strict=True):
        assert isinstance(record, ClassificationExample)
        encoded = tokenizer(record.text, truncation=True, max_length=max_length)
        out.append({"input_ids": list(encoded["input_ids"]), "labels": label})
    return out


def load_image(ref: str, root: Path) -> Any:
    """An RGB PIL image from a path (relative to the data file) or an http(s) url."""
    from io import BytesIO

    from PIL import Image

    if ref.startswith(("http://", "https://")):
        import httpx

        response = httpx.get(ref, timeout=30.0, follow_redirects=True)
        response.raise_for_status()
        return Image.open(BytesIO(response.content)).convert("RGB")
    path = Path(ref.removeprefix("file://"))
    path = path if path.is_absolute() else root / path
    with Image.open(path) as image:
        return image.convert("RGB")


def encode_images(records: list[Example], processor: Any, label2id: dict[str, int], root: Path) -> list[dict[str, Any]]:
    """Image-classification features (pixel values as tensors)."""
    _require(records, ImageExample, "image-classification")
    ids = label_ids(records, label2id)
    out = []
    for number, (record, label) in enumerate(zip(records, ids, strict=True), start=1):
        assert isinstance(record, ImageExample)
        try:
            image = load_image(record.image, root)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"record {number}: cannot read image {record.image!r}: {exc}") from None
        pixels = processor(image, return_tensors="pt")["pixel_values"][0]
        out.append({"pixel_values": pixels, "labels": label})
    return out


def pack(features: list[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """Greedy packing of causal-LM examples into rows of at most ``max_length`` tokens.

    Positions restart at each example (``position_ids``); the loop then drops
    the 2D attention mask so that transformers builds a block-diagonal causal
    mask from them (flash-attention kernels use them directly): packed examples
    never attend to each other. The first label of each example is masked so
    that no loss crosses a boundary.
    """
    rows: list[dict[str, list[int]]] = []
    current: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
    for feature in features:
        ids = feature["input_ids"]
        if current["input_ids"] and len(current["input_ids"]) + len(ids) > max_length:
            rows.append(current)
            current = {"input_ids": [], "labels": [], "position_ids": []}
        current["input_ids"] += ids
        current["labels"] += [IGNORE_INDEX, *feature["labels"][1:]]
        current["position_ids"] += list(range(len(ids)))
    if current["input_ids"]:
        rows.append(current)
    return rows


def _segment(feature: dict[str, list[int]]) -> dict[str, list[int]]:
    """One example (or an already packed row) as a piece of a packed row: positions restart, and the
    first label is masked because the token before it belongs to another piece."""
    ids = feature["input_ids"]
    return {
        "input_ids": ids,
        "labels": [IGNORE_INDEX, *feature["labels"][1:]],
        "position_ids": feature.get("position_ids") or list(range(len(ids))),
    }


def pack_batch(features: list[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """The examples of one batch in as few rows of at most ``max_length`` tokens as first-fit
    decreasing finds: the same examples as the padded batch, so the same loss, without most of its
    padding. Rows keep restarting ``position_ids`` (block-diagonal attention, as with ``pack``)."""
    rows: list[dict[str, list[int]]] = []
    for feature in sorted(features, key=lambda f: -len(f["input_ids"])):
        piece = _segment(feature)
        row = next((r for r in rows if len(r["input_ids"]) + len(piece["input_ids"]) <= max_length), None)
        if row is None:
            rows.append({key: list(value) for key, value in piece.items()})
        else:
            for key, value in piece.items():
                row[key] += value
    return rows


def collate_packed(features: list[dict[str, Any]], pad_id: int, max_length: int) -> dict[str, Any]:
    """``collate`` after ``pack_batch``: token rows of a padded batch's examples, packed."""
    return collate(pack_batch(features, max_length), pad_id)


@dataclass
class Batches:
    """Seeded, epoch-dependent batching of a feature list."""

    size: int
    batch_size: int
    seed: int
    shuffle: bool = True
    _cache: dict[int, list[list[int]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def shared_by(self, world_size: int) -> int:
        """Batches per epoch that give each of ``world_size`` ranks an example (a shorter tail is dropped).
        Every epoch has the same sizes: only the order of examples changes."""
        full, tail = divmod(self.size, self.batch_size)
        return full + (1 if tail >= world_size else 0)

    def epoch(self, epoch: int) -> list[list[int]]:
        """The batches (lists of feature indices) of one epoch."""
        if epoch not in self._cache:
            order = list(range(self.size))
            if self.shuffle:
                random.Random(self.seed * 1_000_003 + epoch).shuffle(order)  # noqa: S311 -- data order
            self._cache = {epoch: [order[i : i + self.batch_size] for i in range(0, self.size, self.batch_size)]}
        return self._cache[epoch]


def collate(features: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Stack a batch: right-padded token rows (labels padded with IGNORE_INDEX), or pixel tensors."""
    import torch

    if "pixel_values" in features[0]:
        return {
            "pixel_values": torch.stack([f["pixel_values"] for f in features]),
            "labels": torch.tensor([f["labels"] for f in features]),
        }
    width = max(len(f["input_ids"]) for f in features)
    batch: dict[str, Any] = {
        "input_ids": torch.tensor([f["input_ids"] + [pad_id] * (width - len(f["input_ids"])) for f in features]),
        "attention_mask": torch.tensor(
            [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
        ),
    }
    if isinstance(features[0]["labels"], list):
        batch["labels"] = torch.tensor([f["labels"] + [IGNORE_INDEX] * (width - len(f["labels"])) for f in features])
    else:
        batch["labels"] = torch.tensor([f["labels"] for f in features])
    if "position_ids" in features[0]:
        batch["position_ids"] = torch.tensor(
            [f["position_ids"] + list(range(width - len(f["position_ids"]))) for f in features]
        )
    return batch

"""Dataset validation: rows, format detection, sha256, size and split counts, errors with line numbers.

Parsing uses the shared formatter (`kubetune.formats`, also used by the trainer
and the facade), line by line so that the first errors are all reported, not
only the first one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.crd.references import open_checked, resolve
from kubetune.crd.splits import SPLIT_FRACTIONS, split_sizes
from kubetune.operator.settings import Settings

MAX_ERRORS = 20
DETECT_SAMPLE = 20

# Detection order: the most specific shapes first, so that a tool-call file is not called plain chat.
DETECTION_ORDER = (
    "openai-dpo",
    "preference",
    "openai_chat_toolcall_jsonl",
    "openai_chat_json_schema_jsonl",
    "openai_chat_jsonl",
    "huggingface_chat_template_toolcall_jsonl",
    "huggingface_chat_template_jsonl",
    "vertex_gemini",
    "alpaca",
    "prompt_completion",
    "text_classification",
    "image_classification",
)


class UnsupportedLocationError(ValueError):
    """A uri the operator cannot read (object stores, the hub): validation is left to the trainer."""


@dataclass
class DatasetReport:
    """What goes into Dataset.status."""

    rows: int = 0
    size_bytes: int = 0
    sha256: str = ""
    detected_format: str | None = None
    splits: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and self.rows > 0


def local_path(uri: str, settings: Settings, namespace: str) -> Path:
    """The file a Dataset of ``namespace`` names, inside its project's prefix of the store.

    Through the one resolver (kubetune.crd.references), symlinks followed and re-checked: the operator
    never stats, hashes or counts a file outside the Dataset's own project (no existence or size
    oracle for kubectl users). Raises InvalidReference (the spec is wrong: permanent) or
    UnsupportedLocationError (a valid place the operator cannot read: the trainer validates it).
    """
    layout = settings.reference_layout()
    ref = resolve(uri, namespace, layout, "uri")
    if not ref.in_store:
        where = f"PVC {ref.claim}" if ref.scheme == "pvc" else f"{ref.scheme}://"
        raise UnsupportedLocationError(f"{where} datasets are validated by the trainer, not here")
    return open_checked(ref, layout, namespace, want_file=True)


def _parsers() -> dict[str, Any]:
    from kubetune.formats.readers import PARSERS  # the shared formatter; no torch in it

    return dict(PARSERS)


def _objects(lines: Iterable[str]) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed JSON or None, error) for every non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield number, None, f"not valid JSON: {exc.msg} (column {exc.colno})"


def _accepts(parser: Any, obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    try:
        parser(obj)
    except (ValueError, TypeError, KeyError) as exc:
        return str(exc)
    return None


def detect_format(sample: list[Any], parsers: dict[str, Any], declared: str) -> str | None:
    """The format every sampled record parses as; the declared one wins when it fits."""
    if not sample:
        return None
    for fmt in (declared, *DETECTION_ORDER):
        parser = parsers.get(fmt)
        if parser is not None and all(_accepts(parser, obj) is None for obj in sample):
            return fmt
    return None


def split_counts(rows: int, split_names: Iterable[str]) -> list[dict[str, Any]]:
    """Rows per split for each definition; rounding remainders go to train.

    With more than one definition, split names are prefixed by their definition (train_test/train).
    """
    names = list(split_names)
    out: list[dict[str, Any]] = []
    for name in names:
        sizes = split_sizes(rows, name) if name in SPLIT_FRACTIONS else [("train", rows)]
        prefix = "" if len(names) <= 1 else f"{name}/"
        out += [{"name": f"{prefix}{split}", "rows": n} for split, n in sizes]
    return out


def validate_lines(lines: Iterable[str], declared: str, split_names: Iterable[str] = ()) -> DatasetReport:
    """Validate JSONL content against the declared format (pure: no file access)."""
    parsers = _parsers()
    parser = parsers.get(declared)
    report = DatasetReport()
    sample: list[Any] = []
    for number, obj, error in _objects(lines):
        report.rows += 1
        if error is None and len(sample) < DETECT_SAMPLE:
            sample.append(obj)
        if error is None and parser is not None:
            error = _accepts(parser, obj)
        if error is not None and len(report.errors) < MAX_ERRORS:
            report.errors.append({"line": number, "message": error[:1024]})
    if parser is None:
        report.errors.insert(0, {"message": f"unknown format {declared}"})
    report.detected_format = detect_format(sample, parsers, declared)
    if report.rows == 0:
        report.errors.append({"message": "the dataset has no rows"})
    names = list(split_names) or ["all"]
    report.splits = split_counts(report.rows, names)
    return report


def _json_array_lines(text: str) -> list[str]:
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("a .json dataset must hold one list of records")
    return [json.dumps(item) for item in items]


def validate_file(path: Path, declared: str, split_names: Iterable[str] = ()) -> DatasetReport:
    """Hash and size the file, then validate its content."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        try:
            lines = _json_array_lines(text)
        except ValueError as exc:
            report = DatasetReport(errors=[{"message": str(exc)[:1024]}])
            report.sha256, report.size_bytes = digest.hexdigest(), size
            return report
    else:
        lines = text.splitlines()
    report = validate_lines(lines, declared, split_names)
    report.sha256, report.size_bytes = digest.hexdigest(), size
    return report

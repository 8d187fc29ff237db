"""Dataset validation: rows, detected format, hash, splits and the first errors with line numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kubetune.crd.references import InvalidReference
from kubetune.operator.datasets import UnsupportedLocationError, local_path, validate_file, validate_lines
from kubetune.operator.settings import Settings

CHAT = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
ALPACA = json.dumps({"instruction": "add", "input": "1+1", "output": "2"})


def test_valid_chat_file_reports_rows_hash_and_splits(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    content = "\n".join([CHAT] * 10) + "\n"
    path.write_text(content)
    report = validate_file(path, "openai_chat_jsonl", ["train_test"])
    assert report.valid
    assert report.rows == 10
    assert report.size_bytes == len(content.encode())
    assert report.sha256 == hashlib.sha256(content.encode()).hexdigest()
    assert report.detected_format == "openai_chat_jsonl"
    assert report.splits == [{"name": "train", "rows": 8}, {"name": "test", "rows": 2}]


def test_bad_lines_are_reported_with_their_numbers() -> None:
    lines = [CHAT, "{not json", "", CHAT, json.dumps([1, 2]), json.dumps({"messages": "nope"})]
    report = validate_lines(lines, "openai_chat_jsonl")
    assert not report.valid
    assert [e["line"] for e in report.errors] == [2, 5, 6]
    assert report.errors[0]["message"].startswith("not valid JSON")
    assert report.rows == 5  # the blank line is not a row


def test_format_detection_notices_a_mismatch() -> None:
    report = validate_lines([ALPACA, ALPACA], "openai_chat_jsonl")
    assert not report.valid
    assert report.detected_format == "alpaca"


def test_empty_dataset_is_invalid() -> None:
    report = validate_lines(["", "  "], "alpaca")
    assert not report.valid and report.errors == [{"message": "the dataset has no rows"}]


def test_several_split_definitions_are_prefixed() -> None:
    report = validate_lines([ALPACA] * 10, "alpaca", ["train_val", "all"])
    assert {"name": "train_val/validation", "rows": 2} in report.splits
    assert {"name": "all/train", "rows": 10} in report.splits


def test_json_array_files_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps([json.loads(ALPACA)] * 3))
    assert validate_file(path, "alpaca").rows == 3


def test_uris_map_into_the_operators_view_of_the_store(tmp_path: Path) -> None:
    local = tmp_path / "srv"
    settings = Settings(artifact_pvc="store", artifact_mount_path="/mnt/a", artifact_local_root=str(local),
                        object_store_root="s3://bucket/p")
    real = (local / "ns").resolve()
    assert local_path("file:///mnt/a/ns/d.jsonl", settings, "ns") == real / "d.jsonl"
    assert local_path("pvc://store/ns/d.jsonl", settings, "ns") == real / "d.jsonl"
    with pytest.raises(UnsupportedLocationError):
        local_path("s3://bucket/p/ns/d.jsonl", settings, "ns")
    with pytest.raises(UnsupportedLocationError):
        local_path("pvc://other/d.jsonl", settings, "ns")


@pytest.mark.parametrize("uri", ["file:///elsewhere/d.jsonl", "file:///mnt/a/other/d.jsonl",
                                 "pvc://store/other/d.jsonl", "file:///mnt/a/ns/../other/d.jsonl",
                                 "s3://bucket/p/other/d.jsonl", "s3://elsewhere/ns/d.jsonl"])
def test_uris_outside_the_datasets_project_are_refused(uri: str) -> None:
    settings = Settings(artifact_pvc="store", artifact_mount_path="/mnt/a", object_store_root="s3://bucket/p")
    with pytest.raises(InvalidReference):
        local_path(uri, settings, "ns")

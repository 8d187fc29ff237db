"""The Dataset controller's validation of preference files: rows, detected format, bad lines by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.operator.datasets import validate_file, validate_lines

pytestmark = pytest.mark.unit

OPENAI_DPO = json.dumps({
    "input": {"messages": [{"role": "user", "content": "2+2?"}]},
    "preferred_output": [{"role": "assistant", "content": "4"}],
    "non_preferred_output": [{"role": "assistant", "content": "5"}],
})
HF = json.dumps({"prompt": "2+2?", "chosen": "4", "rejected": "5"})
CHAT = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})


def test_good_preference_files_are_ready_with_their_format(tmp_path: Path) -> None:
    for fmt, line in (("openai-dpo", OPENAI_DPO), ("preference", HF)):
        path = tmp_path / f"{fmt}.jsonl"
        path.write_text("\n".join([line] * 5) + "\n")
        report = validate_file(path, fmt)
        assert report.valid and report.rows == 5 and report.detected_format == fmt, report


def test_bad_preference_lines_are_reported_with_their_numbers() -> None:
    same = json.dumps({"prompt": "q", "chosen": "a", "rejected": "a"})
    missing = json.dumps({"prompt": "q", "chosen": "a"})
    report = validate_lines([HF, same, "", HF, missing, "{oops"], "preference")
    assert not report.valid
    assert [e["line"] for e in report.errors] == [2, 5, 6]
    assert "are the same" in report.errors[0]["message"]
    assert "missing field 'rejected'" in report.errors[1]["message"]


def test_a_chat_file_declared_as_preference_is_invalid_and_detected_as_chat() -> None:
    report = validate_lines([CHAT, CHAT], "openai-dpo")
    assert not report.valid and report.detected_format == "openai_chat_jsonl"
    assert [e["line"] for e in report.errors] == [1, 2]


def test_a_preference_file_declared_as_chat_is_detected() -> None:
    report = validate_lines([OPENAI_DPO], "openai_chat_jsonl")
    assert not report.valid and report.detected_format == "openai-dpo"

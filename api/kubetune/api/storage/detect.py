"""Which dataset format a JSONL file is, from its first records (full validation is the operator's)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubetune.api.core.errors import ApiError

HEAD_LINES = 50


def _format_of(record: dict[str, Any]) -> str | None:
    # Preference pairs first: their prompt may be chat messages, which would pass for a chat file.
    if "preferred_output" in record or "non_preferred_output" in record:
        return "openai-dpo"
    if "chosen" in record or "rejected" in record:
        return "preference"
    if "messages" in record:
        messages = record["messages"]
        if isinstance(messages, list) and any(isinstance(m, dict) and m.get("tool_calls") for m in messages):
            return "openai_chat_toolcall_jsonl"
        return "openai_chat_jsonl"
    if "contents" in record:
        return "vertex_gemini"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "prompt" in record and "completion" in record:
        return "prompt_completion"
    if "text" in record and "label" in record:
        return "text_classification"
    if ("image" in record or "image_path" in record) and "label" in record:
        return "image_classification"
    return None


def detect_format(lines: Iterable[str]) -> str:
    """The format shared by the first records; ApiError(400) when the head is not valid data."""
    found: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ApiError(400, f"line {number} is not valid JSON", code="INVALID_DATASET") from exc
        if not isinstance(record, dict):
            raise ApiError(400, f"line {number} is not a JSON object", code="INVALID_DATASET")
        fmt = _format_of(record)
        if fmt is None:
            raise ApiError(400, f"line {number} matches no supported dataset format", code="INVALID_DATASET")
        found.add(fmt)
    if not found:
        raise ApiError(400, "the dataset is empty", code="INVALID_DATASET")
    if len(found) > 1:
        raise ApiError(400, f"records mix formats: {', '.join(sorted(found))}", code="INVALID_DATASET")
    return found.pop()

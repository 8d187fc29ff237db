"""Every input format x data strategy exports the lines checked in under golden/.

Regenerate after an intended change with ``KUBETUNE_UPDATE_GOLDEN=1 pytest tests/unit/formats``
and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.vocab import PREFERENCE_FORMATS, TASK_FORMATS
from kubetune.formats import CHAT_WRITERS, STRATEGIES, DatasetError, format_lines, read_records

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden"
INPUTS = GOLDEN / "inputs"
# Every chat format a causal LM learns from (preference pairs are not chats: they export to nothing here).
CHAT_INPUTS = sorted(TASK_FORMATS["causal-lm"] - PREFERENCE_FORMATS)


def _export(input_format: str, strategy: str, output_format: str) -> Any:
    records = read_records(INPUTS / f"{input_format}.jsonl", input_format)
    try:
        lines = list(
            format_lines(
                records,
                output_format,
                strategy,
                system_message=None,
                thinking_instructions="Reason first.",
                source=input_format,
            )
        )
    except DatasetError as exc:
        return {"error": str(exc)}
    return [json.loads(line) for line in lines]


def _current() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for input_format in CHAT_INPUTS:
        # Each input goes to the OpenAI chat shape and to the Hugging Face shape of its tool family.
        tool_family = "toolcall" in input_format
        targets = (
            ["openai_chat_toolcall_jsonl", "huggingface_chat_template_toolcall_jsonl"]
            if tool_family
            else ["openai_chat_jsonl", "huggingface_chat_template_jsonl", "vertex_gemini"]
        )
        for strategy in STRATEGIES:
            for target in targets:
                out[f"{input_format} -> {target} / {strategy}"] = _export(input_format, strategy, target)
    return out


def test_exports_match_golden() -> None:
    path = GOLDEN / "export.json"
    current = _current()
    if os.environ.get("KUBETUNE_UPDATE_GOLDEN"):
        path.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert sorted(current) == sorted(expected)
    for key, value in current.items():
        assert value == expected[key], key


def test_every_chat_output_format_has_a_writer_in_the_golden_set() -> None:
    used = {key.split(" -> ")[1].split(" / ")[0] for key in json.loads((GOLDEN / "export.json").read_text())}
    assert used == set(CHAT_WRITERS) - {"openai_chat_json_schema_jsonl"}

"""Preference formats (openai-dpo, preference): every accepted shape, and bad lines named by file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetune.formats import DatasetError, PreferenceExample, iter_records, read_records

pytestmark = pytest.mark.unit

OPENAI_DPO = {
    "input": {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]},
    "preferred_output": [{"role": "assistant", "content": "4"}],
    "non_preferred_output": [{"role": "assistant", "content": "5"}],
}
HF_TEXT = {"prompt": "2+2?", "chosen": "4", "rejected": "5"}
HF_CONVERSATIONAL = {
    "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
    "chosen": [{"role": "assistant", "content": "4"}],
    "rejected": [{"role": "assistant", "content": "5"}],
}
HF_IMPLICIT = {
    "chosen": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
               {"role": "assistant", "content": "4"}],
    "rejected": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                 {"role": "assistant", "content": "5"}],
}


def _one(record: dict[str, Any], fmt: str) -> PreferenceExample:
    (example,) = list(iter_records([json.dumps(record)], fmt))
    assert isinstance(example, PreferenceExample)
    return example


@pytest.mark.parametrize(
    ("record", "fmt"),
    [(OPENAI_DPO, "openai-dpo"), (HF_CONVERSATIONAL, "preference"), (HF_IMPLICIT, "preference")],
)
def test_every_shape_parses_to_the_same_pair(record: dict[str, Any], fmt: str) -> None:
    example = _one(record, fmt)
    assert example.system == "Be brief."
    assert [(m.role, m.content) for m in example.messages] == [("user", "2+2?")]
    assert (example.chosen.role, example.chosen.content) == ("assistant", "4")
    assert (example.rejected.role, example.rejected.content) == ("assistant", "5")
    chosen_chat = example.chat(example.chosen)
    assert [m.content for m in chosen_chat.messages] == ["2+2?", "4"] and chosen_chat.system == "Be brief."


def test_text_form_is_one_user_turn_and_one_answer() -> None:
    example = _one(HF_TEXT, "preference")
    assert [(m.role, m.content) for m in example.messages] == [("user", "2+2?")] and example.system is None
    assert example.chosen.content == "4" and example.rejected.content == "5"


def test_openai_dpo_answer_may_call_a_tool() -> None:
    record = dict(OPENAI_DPO, preferred_output=[{"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "add", "arguments": "{\"a\": 2, \"b\": 2}"}}]}])
    example = _one(record, "openai-dpo")
    assert example.chosen.tool_calls[0].name == "add" and example.chosen.tool_calls[0].arguments == {"a": 2, "b": 2}


BAD = [
    ("openai-dpo", {"preferred_output": "a", "non_preferred_output": "b"}, "missing field 'input'"),
    ("openai-dpo", dict(OPENAI_DPO, non_preferred_output=[]),
     "exactly one assistant message"),
    ("openai-dpo", {k: v for k, v in OPENAI_DPO.items() if k != "preferred_output"},
     "missing field 'preferred_output'"),
    ("openai-dpo", dict(OPENAI_DPO, input={"messages": [{"role": "user", "content": "q"},
                                                        {"role": "assistant", "content": "a"}]}),
     "must not be from the assistant"),
    ("openai-dpo", dict(OPENAI_DPO, preferred_output=[{"role": "user", "content": "4"}]), "must be from the assistant"),
    ("openai-dpo", dict(OPENAI_DPO, input={"messages": [{"role": "wizard", "content": "q"}]}), "role must be one of"),
    ("preference", {"prompt": "q", "chosen": "a"}, "missing field 'rejected'"),
    ("preference", {"prompt": "q", "chosen": "a", "rejected": "a"}, "are the same"),
    ("preference", {"prompt": "", "chosen": "a", "rejected": "b"}, "'prompt' is empty"),
    ("preference", {"prompt": "q", "chosen": "", "rejected": "b"}, "'chosen' is empty"),
    ("preference", {"prompt": "q", "chosen": 4, "rejected": "b"}, "string or an assistant message"),
    ("preference", dict(HF_IMPLICIT, rejected=[{"role": "user", "content": "other"},
                                               {"role": "assistant", "content": "5"}]),
     "share every message but the last"),
    ("preference", {"chosen": "a", "rejected": "b"}, "whole conversation"),
]


@pytest.mark.parametrize(("fmt", "record", "message"), BAD)
def test_bad_line_names_file_line_and_reason(tmp_path: Path, fmt: str, record: dict[str, Any], message: str) -> None:
    good = OPENAI_DPO if fmt == "openai-dpo" else HF_TEXT
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join([json.dumps(good), "", json.dumps(good), json.dumps(record)]) + "\n")
    with pytest.raises(DatasetError) as caught:
        read_records(path, fmt)
    assert caught.value.line == 4 and caught.value.source == str(path)
    assert message in str(caught.value), str(caught.value)


def test_good_file_reads_every_pair(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (HF_TEXT, HF_CONVERSATIONAL, HF_IMPLICIT)))
    assert [e.chosen.content for e in read_records(path, "preference")] == ["4", "4", "4"]  # type: ignore[union-attr]


def test_a_chat_file_is_not_a_preference_file() -> None:
    chat = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    with pytest.raises(DatasetError, match=":1: missing field 'chosen'"):
        list(iter_records([json.dumps(chat)], "preference", source="chat.jsonl"))

"""Bad lines fail fast with the file, the line number and what is wrong."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import kubetune.formats
from kubetune.formats import DatasetError, format_file, output_file_name, read_records, render
from kubetune.formats.records import ChatExample, Message

pytestmark = pytest.mark.unit

GOOD_CHAT = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})


@pytest.mark.parametrize(
    ("fmt", "bad_line", "reason"),
    [
        ("openai_chat_jsonl", "{not json", "not valid JSON"),
        ("openai_chat_jsonl", "[1, 2]", "expected a JSON object"),
        ("openai_chat_jsonl", '{"messages": []}', "non-empty list of messages"),
        ("openai_chat_jsonl", '{"messages": [{"role": "robot", "content": "x"}]}', "role must be one of"),
        (
            "openai_chat_jsonl",
            '{"messages": [{"role": "user", "content": "x"}]}',
            "must be from the assistant",
        ),
        ("openai_chat_json_schema_jsonl", GOOD_CHAT, "not valid JSON"),
        ("openai_chat_toolcall_jsonl", GOOD_CHAT, "no tool_calls"),
        (
            "openai_chat_toolcall_jsonl",
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "x"},
                        {
                            "role": "assistant",
                            "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{oops"}}],
                        },
                    ]
                }
            ),
            "arguments are not valid JSON",
        ),
        ("alpaca", '{"instruction": "x"}', "missing field 'output'"),
        ("prompt_completion", '{"prompt": 3, "completion": "x"}', "must be a string"),
        ("text_classification", '{"text": "x", "label": true}', "'label'"),
        ("image_classification", '{"label": "cat"}', "missing field 'image'"),
        ("vertex_gemini", '{"contents": [{"role": "bot", "parts": []}]}', "role must be 'user' or 'model'"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, fmt: str, bad_line: str, reason: str) -> None:
    good = {
        "openai_chat_jsonl": GOOD_CHAT,
        "openai_chat_json_schema_jsonl": GOOD_CHAT.replace('"yo"', '"{}"'),
        "openai_chat_toolcall_jsonl": None,
        "alpaca": '{"instruction": "a", "output": "b"}',
        "prompt_completion": '{"prompt": "a", "completion": "b"}',
        "text_classification": '{"text": "a", "label": "b"}',
        "image_classification": '{"image": "a.png", "label": "b"}',
        "vertex_gemini": '{"contents": [{"role": "user", "parts": [{"text": "a"}]}, '
        '{"role": "model", "parts": [{"text": "b"}]}]}',
    }[fmt]
    lines = ([good, ""] if good else ["", ""]) + [bad_line, good or ""]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        read_records(path, fmt)
    assert info.value.line == 3
    assert info.value.source == str(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert reason in str(info.value)


def test_unknown_format_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n\n")
    with pytest.raises(DatasetError, match="no records"):
        read_records(path, "alpaca")
    with pytest.raises(DatasetError, match="unknown format"):
        read_records(path, "csv")


def test_json_array_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]))
    assert len(read_records(path, "prompt_completion")) == 2


def test_system_message_from_config_replaces_the_datas() -> None:
    example = ChatExample(
        messages=(Message(role="user", content="q"), Message(role="assistant", content="a")), system="old"
    )
    rendered = render(example, "final_only", system_message="new")
    assert [(m.role, m.content, m.trainable) for m in rendered.messages] == [
        ("system", "new", False),
        ("user", "q", False),
        ("assistant", "a", True),
    ]
    assert render(example).messages[0].content == "old"


def test_unknown_strategy_is_refused() -> None:
    example = ChatExample(messages=(Message(role="user", content="q"), Message(role="assistant", content="a")))
    with pytest.raises(ValueError, match="unknown data strategy"):
        render(example, "think_hard")


def test_output_file_name_is_kiln_style_and_path_safe() -> None:
    assert output_file_name("support chat", "train", "openai_chat_jsonl", "two_message_cot") == (
        "support_chat--split-train--format-openai_chat_jsonl--two_message_cot.jsonl"
    )
    assert "/" not in output_file_name("../../etc/passwd", "x/y", "alpaca")


def test_format_file_writes_the_named_file(tmp_path: Path) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text('{"prompt": "2+2?", "completion": "4"}\n')
    target = format_file(source, "prompt_completion", tmp_path / "out", "openai_chat_jsonl", system_message="Be exact.")
    assert target.name == "qa--split-train--format-openai_chat_jsonl--final_only.jsonl"
    assert json.loads(target.read_text()) == {
        "messages": [
            {"role": "system", "content": "Be exact."},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ]
    }


def test_formats_package_never_imports_torch() -> None:
    # The facade image has no torch: a static check of every module's imports.
    package = Path(kubetune.formats.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert name.split(".")[0] not in {"torch", "transformers", "peft", "accelerate"}, module
                assert not name.startswith("kubetune.train"), module

"""Write rendered examples in each export format, and name the files the way Kiln does.

These are what the facade's format/download endpoints return; the trainer
itself tokenises ``Rendered`` messages directly through the chat template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kubetune.formats.errors import DatasetError
from kubetune.formats.readers import read_records
from kubetune.formats.records import (
    ChatExample,
    ClassificationExample,
    Example,
    ImageExample,
    Message,
    Rendered,
)
from kubetune.formats.strategies import render


def _openai_message(message: Message, *, arguments_as_text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id or f"call_{i}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps(call.arguments) if arguments_as_text else call.arguments,
                },
            }
            for i, call in enumerate(message.tool_calls)
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def to_openai_chat(rendered: Rendered) -> dict[str, Any]:
    """OpenAI fine-tuning chat lines: tool-call arguments as JSON text, as the API expects."""
    line: dict[str, Any] = {"messages": [_openai_message(m, arguments_as_text=True) for m in rendered.messages]}
    if rendered.tools:
        line["tools"] = list(rendered.tools)
    return line


def to_huggingface_chat(rendered: Rendered) -> dict[str, Any]:
    """Hugging Face chat-template lines: ``conversations``, tool-call arguments as objects."""
    line: dict[str, Any] = {"conversations": [_openai_message(m, arguments_as_text=False) for m in rendered.messages]}
    if rendered.tools:
        line["tools"] = list(rendered.tools)
    return line


def to_vertex_gemini(rendered: Rendered) -> dict[str, Any]:
    """Vertex AI Gemini tuning lines; tool turns are not representable there and are refused."""
    line: dict[str, Any] = {}
    contents = []
    for message in rendered.messages:
        if message.tool_calls or message.role == "tool":
            raise ValueError("vertex_gemini export does not support tool calls")
        if message.role == "system":
            line["systemInstruction"] = {"role": "system", "parts": [{"text": message.content or ""}]}
        else:
            role = "model" if message.role == "assistant" else "user"
            contents.append({"role": role, "parts": [{"text": message.content or ""}]})
    line["contents"] = contents
    return line


def _chat_writer(
    build: Callable[[Rendered], dict[str, Any]], *, tool_calls: bool | None
) -> Callable[[Rendered], dict[str, Any]]:
    def write(rendered: Rendered) -> dict[str, Any]:
        has_calls = bool(rendered.messages[-1].tool_calls)
        if tool_calls is True and not has_calls:
            raise ValueError("a tool-call format needs a final assistant message with tool_calls")
        if tool_calls is False and has_calls:
            raise ValueError("this format has no tool calls; use a *_toolcall_jsonl format")
        return build(rendered)

    return write


CHAT_WRITERS: dict[str, Callable[[Rendered], dict[str, Any]]] = {
    "openai_chat_jsonl": _chat_writer(to_openai_chat, tool_calls=False),
    "openai_chat_json_schema_jsonl": _chat_writer(to_openai_chat, tool_calls=False),
    "openai_chat_toolcall_jsonl": _chat_writer(to_openai_chat, tool_calls=True),
    "huggingface_chat_template_jsonl": _chat_writer(to_huggingface_chat, tool_calls=False),
    "huggingface_chat_template_toolcall_jsonl": _chat_writer(to_huggingface_chat, tool_calls=True),
    "vertex_gemini": _chat_writer(to_vertex_gemini, tool_calls=None),
}
RECORD_FORMATS = ("text_classification", "image_classification")


def _record_line(example: Example, fmt: str) -> dict[str, Any]:
    if fmt == "text_classification" and isinstance(example, ClassificationExample):
        return {"text": example.text, "label": example.label}
    if fmt == "image_classification" and isinstance(example, ImageExample):
        return {"image": example.image, "label": example.label}
    raise ValueError(f"a {type(example).__name__} cannot be written as {fmt}")


def format_lines(
    examples: Iterable[Example],
    fmt: str,
    strategy: str = "final_only",
    *,
    system_message: str | None = None,
    thinking_instructions: str | None = None,
    source: str = "<data>",
) -> Iterator[str]:
    """JSONL lines of ``examples`` in ``fmt``; a record that does not fit raises ``DatasetError``."""
    writer = CHAT_WRITERS.get(fmt)
    if writer is None and fmt not in RECORD_FORMATS:
        raise DatasetError(f"unknown output format {fmt!r}", source=source)
    for number, example in enumerate(examples, start=1):
        try:
            if writer is None:
                line = _record_line(example, fmt)
            elif isinstance(example, ChatExample):
                rendered = render(
                    example,
                    strategy,
                    system_message=system_message,
                    thinking_instructions=thinking_instructions,
                )
                line = writer(rendered)
            else:
                raise ValueError(f"a {type(example).__name__} cannot be written as {fmt}")
        except ValueError as exc:
            raise DatasetError(f"record {number}: {exc}", source=source) from None
        yield json.dumps(line, ensure_ascii=False)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_file_name(dataset_name: str, split: str, fmt: str, strategy: str = "final_only") -> str:
    """Kiln-style: ``<dataset> -- split-<split> -- format-<format> -- <strategy>.jsonl``, made path-safe."""

    def safe(part: str) -> str:
        return _UNSAFE.sub("_", part).strip("._") or "dataset"

    return f"{safe(dataset_name)}--split-{safe(split)}--format-{safe(fmt)}--{safe(strategy)}.jsonl"


def format_file(
    source: str | Path,
    input_format: str,
    output_dir: str | Path,
    output_format: str,
    *,
    split: str = "train",
    strategy: str = "final_only",
    system_message: str | None = None,
    thinking_instructions: str | None = None,
) -> Path:
    """Read ``source`` in ``input_format`` and write it in ``output_format``; returns the new file."""
    source = Path(source)
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / output_file_name(source.stem, split, output_format, strategy)
    lines = format_lines(
        read_records(source, input_format),
        output_format,
        strategy,
        system_message=system_message,
        thinking_instructions=thinking_instructions,
        source=str(source),
    )
    tmp = target.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    tmp.replace(target)
    return target

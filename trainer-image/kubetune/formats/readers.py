"""Parse dataset lines into records, one format at a time, failing on the first bad line.

Every parser takes one decoded JSON object and returns a record or raises
``ValueError`` with what is wrong; ``read_records`` adds the file and the line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kubetune.formats.errors import DatasetError
from kubetune.formats.preference import PREFERENCE_PARSERS  # it imports this module's helpers late
from kubetune.formats.records import (
    ChatExample,
    ClassificationExample,
    Example,
    ImageExample,
    Message,
    ToolCall,
)

REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")
_ROLES = {"system", "user", "assistant", "tool"}


def _text(obj: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ValueError(f"missing field {key!r}")
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _reasoning(obj: dict[str, Any]) -> str | None:
    for key in REASONING_KEYS:
        value = _text(obj, key, required=False)
        if value:
            return value
    return None


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: arguments must be a JSON object")
    return raw


def _tool_calls(raw: Any, where: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: tool_calls must be a list")
    calls = []
    for i, call in enumerate(raw):
        here = f"{where}.tool_calls[{i}]"
        if not isinstance(call, dict):
            raise ValueError(f"{here} must be an object")
        fn = call.get("function", call)
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ValueError(f"{here}: missing function name")
        calls.append(ToolCall(name=fn["name"], arguments=_arguments(fn.get("arguments", {}), here), id=call.get("id")))
    return tuple(calls)


def _chat(turns: Any, key: str, tools: Any) -> ChatExample:
    if not isinstance(turns, list) or not turns:
        raise ValueError(f"field {key!r} must be a non-empty list of messages")
    system: str | None = None
    messages: list[Message] = []
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise ValueError(f"{where} must be an object")
        role = turn.get("role")
        if role not in _ROLES:
            raise ValueError(f"{where}: role must be one of {sorted(_ROLES)}, got {role!r}")
        content = turn.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"{where}: content must be a string")
        if role == "system":
            if messages:
                raise ValueError(f"{where}: a system message must come first")
            system = content
            continue
        calls = _tool_calls(turn.get("tool_calls"), where)
        if role == "assistant" and not content and not calls:
            raise ValueError(f"{where}: assistant message has neither content nor tool_calls")
        if role == "user" and not content:
            raise ValueError(f"{where}: user message has no content")
        messages.append(
            Message(
                role=role,
                content=content,
                tool_calls=calls,
                tool_call_id=turn.get("tool_call_id"),
                name=turn.get("name"),
            )
        )
    if not messages or messages[-1].role != "assistant":
        raise ValueError(f"the last message in {key!r} must be from the assistant")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
        raise ValueError("field 'tools' must be a list of objects")
    last = turns[-1]
    return ChatExample(messages=tuple(messages), system=system, reasoning=_reasoning(last), tools=tuple(tools or ()))


def parse_openai_chat(obj: dict[str, Any]) -> ChatExample:
    """``{"messages": [{"role", "content", "reasoning_content"?, "tool_calls"?}], "tools"?}``."""
    return _chat(obj.get("messages"), "messages", obj.get("tools"))


def parse_openai_json_schema(obj: dict[str, Any]) -> ChatExample:
    """Like the chat format, and the final assistant content must be a JSON document."""
    example = parse_openai_chat(obj)
    final = example.messages[-1].content or ""
    try:
        json.loads(final)
    except json.JSONDecodeError as exc:
        raise ValueError(f"final assistant content is not valid JSON ({exc.msg})") from None
    return example


def parse_openai_toolcall(obj: dict[str, Any]) -> ChatExample:
    """Like the chat format; the final assistant turn must call at least one tool."""
    example = parse_openai_chat(obj)
    if not example.messages[-1].tool_calls:
        raise ValueError("final assistant message has no tool_calls")
    return example


def parse_hf_chat(obj: dict[str, Any]) -> ChatExample:
    """``{"conversations": [...]}`` (``messages`` accepted too), as Hugging Face chat datasets store it."""
    key = "conversations" if "conversations" in obj else "messages"
    return _chat(obj.get(key), key, obj.get("tools"))


def parse_hf_toolcall(obj: dict[str, Any]) -> ChatExample:
    """The Hugging Face chat shape whose final assistant turn calls a tool."""
    example = parse_hf_chat(obj)
    if not example.messages[-1].tool_calls:
        raise ValueError("final assistant message has no tool_calls")
    return example


def parse_vertex_gemini(obj: dict[str, Any]) -> ChatExample:
    """``{"systemInstruction": {"parts": [...]}, "contents": [{"role": "user"|"model", "parts": [...]}]}``."""
    contents = obj.get("contents")
    if not isinstance(contents, list) or not contents:
        raise ValueError("field 'contents' must be a non-empty list")

    def parts_text(block: Any, where: str) -> str:
        parts = block.get("parts") if isinstance(block, dict) else None
        if not isinstance(parts, list) or not all(
            isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts
        ):
            raise ValueError(f"{where}: parts must be a list of {{'text': str}}")
        return "".join(p["text"] for p in parts)

    turns: list[dict[str, Any]] = []
    if obj.get("systemInstruction") is not None:
        turns.append({"role": "system", "content": parts_text(obj["systemInstruction"], "systemInstruction")})
    for i, block in enumerate(contents):
        role = block.get("role") if isinstance(block, dict) else None
        if role not in ("user", "model"):
            raise ValueError(f"contents[{i}]: role must be 'user' or 'model', got {role!r}")
        turns.append(
            {
                "role": "assistant" if role == "model" else "user",
                "content": parts_text(block, f"contents[{i}]"),
            }
        )
    return _chat(turns, "contents", None)


def parse_alpaca(obj: dict[str, Any]) -> ChatExample:
    """``{"instruction", "input"?, "output", "system"?, "reasoning"?}``; instruction + input is the prompt."""
    instruction = _text(obj, "instruction")
    extra = _text(obj, "input", required=False)
    output = _text(obj, "output")
    if not instruction or not output:
        raise ValueError("instruction and output must not be empty")
    prompt = f"{instruction}\n\n{extra}" if extra else instruction
    return ChatExample(
        messages=(Message(role="user", content=prompt), Message(role="assistant", content=output)),
        system=_text(obj, "system", required=False),
        reasoning=_reasoning(obj),
    )


def parse_prompt_completion(obj: dict[str, Any]) -> ChatExample:
    """``{"prompt", "completion", "reasoning"?}``."""
    prompt, completion = _text(obj, "prompt"), _text(obj, "completion")
    if not prompt or not completion:
        raise ValueError("prompt and completion must not be empty")
    return ChatExample(
        messages=(Message(role="user", content=prompt), Message(role="assistant", content=completion)),
        reasoning=_reasoning(obj),
    )


def _label(obj: dict[str, Any]) -> str:
    label = obj.get("label")
    if isinstance(label, bool) or not isinstance(label, str | int) or label == "":
        raise ValueError("field 'label' must be a non-empty string or an integer")
    return str(label)


def parse_text_classification(obj: dict[str, Any]) -> ClassificationExample:
    """``{"text", "label"}``."""
    text = _text(obj, "text")
    if not text:
        raise ValueError("field 'text' is empty")
    return ClassificationExample(text=text, label=_label(obj))


def parse_image_classification(obj: dict[str, Any]) -> ImageExample:
    """``{"image" | "image_path" | "image_url", "label"}``."""
    for key in ("image", "image_path", "image_url"):
        value = _text(obj, key, required=False)
        if value:
            return ImageExample(image=value, label=_label(obj))
    raise ValueError("missing field 'image' (or 'image_path' / 'image_url')")


PARSERS: dict[str, Callable[[dict[str, Any]], Example]] = {
    "openai_chat_jsonl": parse_openai_chat,
    "openai_chat_json_schema_jsonl": parse_openai_json_schema,
    "openai_chat_toolcall_jsonl": parse_openai_toolcall,
    "huggingface_chat_template_jsonl": parse_hf_chat,
    "huggingface_chat_template_toolcall_jsonl": parse_hf_toolcall,
    "vertex_gemini": parse_vertex_gemini,
    "alpaca": parse_alpaca,
    "prompt_completion": parse_prompt_completion,
    "text_classification": parse_text_classification,
    "image_classification": parse_image_classification,
    **PREFERENCE_PARSERS,
}


def _parser(fmt: str) -> Callable[[dict[str, Any]], Example]:
    try:
        return PARSERS[fmt]
    except KeyError:
        raise DatasetError(f"unknown format {fmt!r}; known: {', '.join(PARSERS)}") from None


def iter_records(lines: Iterable[str], fmt: str, *, source: str = "<data>") -> Iterator[Example]:
    """Parse JSONL lines; blank lines are skipped, the first bad one raises ``DatasetError``."""
    parse = _parser(fmt)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON: {exc.msg} (column {exc.colno})", source=source, line=number) from None
        if not isinstance(obj, dict):
            raise DatasetError(f"expected a JSON object, got {type(obj).__name__}", source=source, line=number)
        try:
            yield parse(obj)
        except ValueError as exc:
            raise DatasetError(str(exc), source=source, line=number) from None


def read_records(path: str | Path, fmt: str) -> list[Example]:
    """Every record of a JSONL file (a ``.json`` file holding one list is accepted too)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
        if not isinstance(items, list):
            raise DatasetError("a .json dataset must hold one list of records", source=str(path))
        # Numbered by item: a JSON array has no meaningful line per record.
        return list(iter_records((json.dumps(item) for item in items), fmt, source=f"{path} item"))
    records = list(iter_records(text.splitlines(), fmt, source=str(path)))
    if not records:
        raise DatasetError("no records", source=str(path))
    return records

"""Preference pairs: a prompt and two answers, the preferred one first (the input of DPO).

Two shapes are read, and both parse into one ``PreferenceExample``:

- ``openai-dpo`` (OpenAI's DPO fine-tuning JSONL)::

    {"input": {"messages": [...], "tools"?: [...]},
     "preferred_output": [{"role": "assistant", "content": "..."}],
     "non_preferred_output": [{"role": "assistant", "content": "..."}]}

- ``preference`` (Hugging Face ``prompt``/``chosen``/``rejected``), text or conversational:

    {"prompt": "...", "chosen": "...", "rejected": "..."}
    {"prompt": [{"role": "user", ...}], "chosen": [{"role": "assistant", ...}], "rejected": [...]}
    {"chosen": [...whole conversation...], "rejected": [...]}   (implicit prompt: the shared head)

A text prompt becomes one user turn and a text answer one assistant turn, as ``prompt_completion``
does: kubetune trains chat models, so both answers are rendered with the model's chat template and
only the answer's tokens carry loss.
"""

from __future__ import annotations

from typing import Any

from kubetune.formats.records import Message, PreferenceExample


def _readers() -> tuple[Any, Any]:
    # readers imports this module for its parser table; import its helpers late to avoid a cycle.
    from kubetune.formats.readers import _chat, _tool_calls

    return _chat, _tool_calls


def _prompt(turns: Any, key: str, tools: Any) -> tuple[tuple[Message, ...], str | None]:
    """A prompt conversation: messages that do not end with the assistant (the answer is elsewhere)."""
    chat, _ = _readers()
    if not isinstance(turns, list) or not turns:
        raise ValueError(f"field {key!r} must be a non-empty list of messages")
    last = turns[-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        raise ValueError(f"the last message in {key!r} must not be from the assistant: the answers follow it")
    # Parse with a placeholder answer so that every turn gets the chat format's checks.
    example = chat([*turns, {"role": "assistant", "content": "-"}], key, tools)
    return example.messages[:-1], example.system


def _answer(value: Any, key: str) -> Message:
    """One assistant answer: a string, one message, or a list holding exactly one assistant message."""
    _, tool_calls = _readers()
    if isinstance(value, str):
        if not value:
            raise ValueError(f"field {key!r} is empty")
        return Message(role="assistant", content=value)
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"field {key!r} must hold exactly one assistant message, got {len(value)}")
        value = value[0]
    if not isinstance(value, dict):
        raise ValueError(f"field {key!r} must be a string or an assistant message")
    if value.get("role", "assistant") != "assistant":
        raise ValueError(f"field {key!r}: the answer must be from the assistant, got role {value.get('role')!r}")
    content = value.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError(f"field {key!r}: content must be a string")
    calls = tool_calls(value.get("tool_calls"), key)
    if not content and not calls:
        raise ValueError(f"field {key!r}: the answer has neither content nor tool_calls")
    return Message(role="assistant", content=content, tool_calls=calls)


def _checked(example: PreferenceExample) -> PreferenceExample:
    if example.chosen == example.rejected:
        raise ValueError("the preferred and the non-preferred answers are the same")
    return example


def parse_openai_dpo(obj: dict[str, Any]) -> PreferenceExample:
    """OpenAI's DPO line: ``input.messages``, ``preferred_output``, ``non_preferred_output``."""
    source = obj.get("input")
    if not isinstance(source, dict):
        raise ValueError("missing field 'input' (an object with 'messages')")
    messages, system = _prompt(source.get("messages"), "input.messages", source.get("tools"))
    for key in ("preferred_output", "non_preferred_output"):
        if key not in obj:
            raise ValueError(f"missing field {key!r}")
    return _checked(
        PreferenceExample(
            messages=messages,
            chosen=_answer(obj["preferred_output"], "preferred_output"),
            rejected=_answer(obj["non_preferred_output"], "non_preferred_output"),
            system=system,
            tools=tuple(source.get("tools") or ()),
        )
    )


def _implicit(chosen: Any, rejected: Any, tools: Any) -> PreferenceExample:
    """Whole conversations for both answers: the prompt is what they share before the last turn."""
    for key, value in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(value, list) or len(value) < 2:
            raise ValueError(f"without 'prompt', field {key!r} must be a whole conversation (a list of messages)")
    if chosen[:-1] != rejected[:-1]:
        raise ValueError("without 'prompt', 'chosen' and 'rejected' must share every message but the last")
    messages, system = _prompt(chosen[:-1], "chosen", tools)
    return PreferenceExample(
        messages=messages,
        chosen=_answer(chosen[-1], "chosen[-1]"),
        rejected=_answer(rejected[-1], "rejected[-1]"),
        system=system,
        tools=tuple(tools or ()),
    )


def parse_preference(obj: dict[str, Any]) -> PreferenceExample:
    """Hugging Face's ``prompt``/``chosen``/``rejected``, text or conversational (prompt may be implicit)."""
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise ValueError(f"missing field {key!r}")
    tools = obj.get("tools")
    prompt = obj.get("prompt")
    if prompt is None:
        return _checked(_implicit(obj["chosen"], obj["rejected"], tools))
    if isinstance(prompt, str):
        if not prompt:
            raise ValueError("field 'prompt' is empty")
        messages: tuple[Message, ...] = (Message(role="user", content=prompt),)
        system = None
    else:
        messages, system = _prompt(prompt, "prompt", tools)
    return _checked(
        PreferenceExample(
            messages=messages,
            chosen=_answer(obj["chosen"], "chosen"),
            rejected=_answer(obj["rejected"], "rejected"),
            system=system,
            tools=tuple(tools or ()),
        )
    )


PREFERENCE_PARSERS = {"openai-dpo": parse_openai_dpo, "preference": parse_preference}

"""Rendered chats to token ids and labels: loss only on what the assistant says.

The chat template comes from the tokenizer. Trainable spans are found by
rendering the conversation prefix by prefix: the text an assistant turn adds
after the generation prompt (its content and its end-of-turn marker) is
trainable, everything else is context. A template that rewrites earlier turns
(not prefix-stable) is refused rather than mis-masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.formats.records import Message, Rendered
from kubetune.testing.tiny import CHAT_TEMPLATE

IGNORE_INDEX = -100
# Used when a base model ships no chat template: ChatML, as the tiny models use.
FALLBACK_CHAT_TEMPLATE = CHAT_TEMPLATE


@dataclass(frozen=True)
class TokenizedExample:
    """One training sequence; ``labels`` is ``IGNORE_INDEX`` where no loss is taken."""

    input_ids: list[int]
    labels: list[int]


def message_dict(message: Message) -> dict[str, Any]:
    """The Hugging Face chat-template shape of one message."""
    out: dict[str, Any] = {"role": message.role, "content": message.content or ""}
    if message.tool_calls:
        out["tool_calls"] = [
            {"type": "function", "id": c.id, "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def ensure_chat_template(tokenizer: Any) -> None:
    """Give a tokenizer without a chat template the ChatML fallback."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE


def _render(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    *,
    generation_prompt: bool = False,
) -> str:
    text = tokenizer.apply_chat_template(
        messages, tools=tools or None, tokenize=False, add_generation_prompt=generation_prompt
    )
    return str(text)


def trainable_spans(tokenizer: Any, rendered: Rendered) -> tuple[str, list[tuple[int, int]]]:
    """The full chat text and the character spans that carry loss."""
    messages = [message_dict(m) for m in rendered.messages]
    tools = list(rendered.tools) or None
    text = _render(tokenizer, messages, tools)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(rendered.messages):
        if not message.trainable:
            continue
        before = _render(tokenizer, messages[:i], tools, generation_prompt=True)
        upto = _render(tokenizer, messages[: i + 1], tools)
        if not (upto.startswith(before) and text.startswith(upto)):
            raise ValueError("the chat template is not prefix-stable; cannot locate assistant tokens")
        spans.append((len(before), len(upto)))
    return text, spans


def tokenize_chat(
    tokenizer: Any, rendered: Rendered, *, max_length: int, train_on_inputs: bool = False
) -> TokenizedExample:
    """Token ids and labels of one chat, truncated on the right to ``max_length``."""
    text, spans = trainable_spans(tokenizer, rendered)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoded["input_ids"])[:max_length]
    offsets: list[tuple[int, int]] = list(encoded["offset_mapping"])[:max_length]
    if train_on_inputs:
        return TokenizedExample(input_ids=ids, labels=list(ids))
    labels = [
        token if any(lo <= start < hi for lo, hi in spans) else IGNORE_INDEX
        for token, (start, _end) in zip(ids, offsets, strict=True)
    ]
    return TokenizedExample(input_ids=ids, labels=labels)


def mask_string(example: TokenizedExample) -> str:
    """``1`` for a token with loss, ``0`` without: the compact form golden files keep."""
    return "".join("0" if label == IGNORE_INDEX else "1" for label in example.labels)

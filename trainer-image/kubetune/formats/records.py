"""Format-neutral records: every input format parses into one of these.

Chat examples keep the conversation up to and including the final assistant
turn (the one the model learns); its reasoning, when the data has one, is kept
apart so that a data strategy decides how (and whether) it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """One function call made by the assistant; arguments as a JSON object."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class Message:
    """One turn. ``trainable`` marks assistant turns whose tokens carry loss."""

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    trainable: bool = False


@dataclass(frozen=True)
class ChatExample:
    """A conversation whose last message is the assistant's final answer."""

    messages: tuple[Message, ...]
    system: str | None = None
    reasoning: str | None = None
    tools: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ClassificationExample:
    """A text and its label."""

    text: str
    label: str


@dataclass(frozen=True)
class ImageExample:
    """An image (a path relative to the data file, an absolute path or a url) and its label."""

    image: str
    label: str


@dataclass(frozen=True)
class Rendered:
    """A chat after the data strategy: the system prompt first, ready for a chat template."""

    messages: tuple[Message, ...]
    tools: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class PreferenceExample:
    """The shared conversation (ending with the turn the answers reply to) and the two answers."""

    messages: tuple[Message, ...]
    chosen: Message
    rejected: Message
    system: str | None = None
    tools: tuple[dict[str, Any], ...] = ()

    def chat(self, answer: Message) -> ChatExample:
        """The conversation completed by one answer (``chosen`` or ``rejected``)."""
        return ChatExample(messages=(*self.messages, answer), system=self.system, tools=self.tools)


Example = ChatExample | ClassificationExample | ImageExample | PreferenceExample

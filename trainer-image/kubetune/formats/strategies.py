"""Data strategies: how a chat example's reasoning becomes turns the model learns.

The strategies (seed 001's ``data_strategy``), for an example whose final
answer is A and whose reasoning is R (system prompt S, thinking instructions T):

- ``final_only``: S, user, assistant(A). Reasoning, if any, is dropped.
- ``two_message_cot``: S, user, user(T), assistant(R), user(FINAL_ANSWER_PROMPT),
  assistant(A). Both assistant turns are learned: first think, then answer.
- ``final_and_intermediate``: S + "\\n\\n" + T as the system prompt, user,
  assistant(R + "\\n\\n" + A): one turn with the intermediate reasoning first.
- ``final_and_intermediate_r1_compatible``: S, user,
  assistant("<think>\\nR\\n</think>\\n\\nA"): the layout R1-style models
  expect; thinking instructions are not added because such models think unasked.

A configured system message replaces the one in the data; without either the
conversation has no system turn. Strategies other than ``final_only`` need
reasoning on every example and refuse an example without it.
Only the final assistant turn (and, for ``two_message_cot``, the reasoning
turn) is trainable; earlier assistant turns are context.
"""

from __future__ import annotations

from dataclasses import replace

from kubetune.formats.records import ChatExample, Message, Rendered

STRATEGIES = (
    "final_only",
    "two_message_cot",
    "final_and_intermediate",
    "final_and_intermediate_r1_compatible",
)
DEFAULT_SYSTEM_MESSAGE = "You are a helpful assistant."
DEFAULT_THINKING_INSTRUCTIONS = "Think step by step, explaining your reasoning."
FINAL_ANSWER_PROMPT = "Considering the above, return a final result."


def render(
    example: ChatExample,
    strategy: str = "final_only",
    *,
    system_message: str | None = None,
    thinking_instructions: str | None = None,
) -> Rendered:
    """The turns to train on (or to export) for one example under one strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown data strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    system = system_message if system_message is not None else example.system
    *context, final = example.messages
    context = [replace(m, trainable=False) for m in context]
    final = replace(final, trainable=True)
    if strategy == "final_only":
        turns = [*context, final]
    else:
        reasoning = example.reasoning
        if not reasoning:
            raise ValueError(f"data strategy {strategy!r} needs reasoning on the final assistant message")
        if final.tool_calls:
            raise ValueError(f"data strategy {strategy!r} cannot wrap reasoning around a tool call")
        instructions = thinking_instructions or DEFAULT_THINKING_INSTRUCTIONS
        answer = final.content or ""
        if strategy == "two_message_cot":
            turns = [
                *context,
                Message(role="user", content=instructions),
                Message(role="assistant", content=reasoning, trainable=True),
                Message(role="user", content=FINAL_ANSWER_PROMPT),
                final,
            ]
        elif strategy == "final_and_intermediate":
            system = f"{system}\n\n{instructions}" if system else instructions
            turns = [*context, replace(final, content=f"{reasoning}\n\n{answer}")]
        else:
            turns = [*context, replace(final, content=f"<think>\n{reasoning}\n</think>\n\n{answer}")]
    head = [Message(role="system", content=system)] if system else []
    return Rendered(messages=tuple(head + turns), tools=example.tools)

"""A tiny memorisable chat dataset for tests: eight question/answer facts as openai_chat_jsonl lines."""

from __future__ import annotations

import json

MEMORISABLE_FACTS = (
    ("capital of France", "Paris"),
    ("capital of Italy", "Rome"),
    ("capital of Spain", "Madrid"),
    ("capital of Japan", "Tokyo"),
    ("sum of two and two", "four"),
    ("product of three and three", "nine"),
    ("color of the sky", "blue"),
    ("opposite of hot", "cold"),
)


def memorisable_chat_jsonl(answer: str = "The {q} is {a}.") -> str:
    """One user question and one assistant answer per fact; `answer` formats the reply from q and a."""
    lines = [
        {"messages": [{"role": "user", "content": f"What is the {q}?"},
                      {"role": "assistant", "content": answer.format(q=q, a=a)}]}
        for q, a in MEMORISABLE_FACTS
    ]
    return "".join(json.dumps(line) + "\n" for line in lines)

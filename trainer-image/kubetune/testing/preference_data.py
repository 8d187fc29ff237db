"""Tiny preference datasets for tests, the DPO benchmark and the demo: made here, never downloaded.

Every pair asks a question; the preferred answer states a fact politely, the other refuses. The rule
(answer, do not refuse) carries over to questions a run never saw, so a short DPO run raises the
reward margin and accuracy on held-out pairs too.
"""

from __future__ import annotations

import json

SUBJECTS = (
    "France", "Italy", "Spain", "Japan", "Peru", "Chile", "Egypt", "Kenya", "Norway", "Poland",
    "Canada", "Mexico", "India", "Nepal", "Ghana", "Cuba", "Greece", "Ireland", "Sweden", "Turkey",
    "Brazil", "Austria", "Belgium", "Portugal", "Vietnam", "Morocco", "Finland", "Denmark", "Jordan", "Iceland",
)
TOPICS = ("capital", "currency", "largest city", "main language")


def preference_pairs(count: int, offset: int = 0) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) triples; ``offset`` starts further along (held-out questions)."""
    out = []
    for i in range(offset, offset + count):
        subject, topic = SUBJECTS[i % len(SUBJECTS)], TOPICS[(i // len(SUBJECTS)) % len(TOPICS)]
        prompt = f"What is the {topic} of {subject}?"
        out.append((prompt, f"Happy to help: the {topic} of {subject} is well known.", "No. Ask someone else."))
    return out


def preference_jsonl(count: int, offset: int = 0, fmt: str = "preference") -> str:
    """The pairs as JSONL: ``preference`` (HF conversational) or ``openai-dpo``."""
    lines = []
    for prompt, chosen, rejected in preference_pairs(count, offset):
        if fmt == "openai-dpo":
            line = {"input": {"messages": [{"role": "user", "content": prompt}]},
                    "preferred_output": [{"role": "assistant", "content": chosen}],
                    "non_preferred_output": [{"role": "assistant", "content": rejected}]}
        else:
            line = {"prompt": [{"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}]}
        lines.append(json.dumps(line))
    return "".join(line + "\n" for line in lines)

"""Every chat format x data strategy produces the token masks checked in under golden/.

The tiny ChatML tokenizer is trained on the fly (deterministic); golden entries
keep the chat text with trainable spans in [[...]] and the per-token mask.
Regenerate with ``KUBETUNE_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kubetune.crd.vocab import PREFERENCE_FORMATS, TASK_FORMATS
from kubetune.formats import STRATEGIES, read_records, render
from kubetune.formats.records import ChatExample
from kubetune.train.chat_tokens import IGNORE_INDEX, mask_string, tokenize_chat, trainable_spans

pytestmark = pytest.mark.unit

INPUTS = Path(__file__).parents[1] / "formats" / "golden" / "inputs"
GOLDEN = Path(__file__).parent / "golden" / "chat_masks.json"
# Every chat format a causal LM learns from (preference pairs are masked by train/dpo, tested there).
CHAT_FORMATS = sorted(TASK_FORMATS["causal-lm"] - PREFERENCE_FORMATS)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from kubetune.testing.tiny import train_byte_level_tokenizer

    return train_byte_level_tokenizer(vocab_size=400)


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for lo, hi in spans:
        out += [text[last:lo], "[[", text[lo:hi], "]]"]
        last = hi
    return "".join([*out, text[last:]])


def _entry(tokenizer: Any, example: ChatExample, strategy: str, train_on_inputs: bool) -> dict[str, Any]:
    try:
        rendered = render(example, strategy, system_message=None, thinking_instructions="Reason first.")
    except ValueError as exc:
        return {"error": str(exc)}
    text, spans = trainable_spans(tokenizer, rendered)
    tokens = tokenize_chat(tokenizer, rendered, max_length=4096, train_on_inputs=train_on_inputs)
    return {"text": _marked(text, spans), "mask": mask_string(tokens), "tokens": len(tokens.input_ids)}


def _current(tokenizer: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fmt in CHAT_FORMATS:
        examples = read_records(INPUTS / f"{fmt}.jsonl", fmt)
        for strategy in STRATEGIES:
            out[f"{fmt} / {strategy}"] = [
                _entry(tokenizer, ex, strategy, False) for ex in examples if isinstance(ex, ChatExample)
            ]
        out[f"{fmt} / final_only / train_on_inputs"] = [
            _entry(tokenizer, ex, "final_only", True) for ex in examples if isinstance(ex, ChatExample)
        ]
    return out


def test_masks_match_golden(tokenizer: Any) -> None:
    current = _current(tokenizer)
    if os.environ.get("KUBETUNE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert sorted(current) == sorted(expected)
    for key, value in current.items():
        assert value == expected[key], key


def test_loss_only_on_assistant_text(tokenizer: Any) -> None:
    example = read_records(INPUTS / "prompt_completion.jsonl", "prompt_completion")[0]
    assert isinstance(example, ChatExample)
    tokens = tokenize_chat(tokenizer, render(example), max_length=4096)
    learned = tokenizer.decode([t for t in tokens.labels if t != IGNORE_INDEX])
    assert learned == " Paris.<|im_end|>\n"
    assert tokens.input_ids[: len(tokens.labels)] == tokens.input_ids
    truncated = tokenize_chat(tokenizer, render(example), max_length=5)
    assert len(truncated.input_ids) == 5 and set(truncated.labels) == {IGNORE_INDEX}

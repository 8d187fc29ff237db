"""Load the run configuration: the operator's JSON file, then command-line overrides.

Overrides are dotted camelCase or snake_case keys with JSON (or bare string)
values, e.g. ``hyperparameters.maxSteps=30`` or ``dataset.uri=./data.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

from kubetune.crd.runconfig import TrainRunConfig


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``a.b.c=value`` set (keys normalised to camelCase)."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not KEY=VALUE")
        *parents, leaf = [to_camel(part) for part in key.split(".")]
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part} is not an object")
        node[leaf] = _value(raw)
    return out


def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> TrainRunConfig:
    """The validated run configuration (a file, overrides, or both)."""
    import yaml

    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping")
        data = loaded
    return TrainRunConfig.model_validate(apply_overrides(data, overrides))

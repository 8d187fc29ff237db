"""--output json|yaml|table for every listing and object the commands print."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel


def plain(value: Any) -> Any:
    """pydantic models (and lists of them) as JSON-compatible data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[c.upper() for c in columns]] + [[_cell(_dig(r, c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _dig(row: dict[str, Any], column: str) -> Any:
    """`progress.percent` reads nested fields."""
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def render(value: Any, fmt: str, columns: Sequence[str]) -> str:
    data = plain(value)
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    rows = data if isinstance(data, list) else [data]
    return table(rows, columns)


def details(value: Any, fmt: str) -> str:
    """One object: key/value lines for the table format."""
    data = plain(value)
    if fmt != "table":
        return render(data, fmt, [])
    width = max((len(k) for k in data), default=0)
    lines = []
    for key, val in data.items():
        shown = json.dumps(val) if isinstance(val, dict | list) else _cell(val)
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)

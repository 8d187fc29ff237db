"""values.schema.json from the Values model: references inlined, no unknown keys anywhere."""

from __future__ import annotations

import json
from typing import Any

from kubetune.chart.values import Values

JsonSchema = dict[str, Any]


def _inline(node: Any, defs: dict[str, JsonSchema]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    out: JsonSchema = {}
    for key, value in node.items():
        if key == "title":
            continue  # pydantic's titles repeat the key; descriptions carry the meaning
        if key in ("properties", "$defs"):
            out[key] = {name: _inline(child, defs) for name, child in value.items()}
        elif key == "default":
            out[key] = value  # a default is data, not a schema
        else:
            out[key] = _inline(value, defs)
    if out.get("type") == "object" and "properties" in out:
        # A typo'd key fails `helm install` instead of being silently ignored.
        out["additionalProperties"] = False
    return out


def values_schema() -> JsonSchema:
    raw = Values.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema: JsonSchema = {"$schema": "https://json-schema.org/draft-07/schema#", **_inline(raw, defs)}
    return schema


def render_schema() -> str:
    return json.dumps(values_schema(), indent=2, sort_keys=False) + "\n"

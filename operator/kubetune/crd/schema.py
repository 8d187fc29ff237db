"""Turn pydantic models into Kubernetes structural OpenAPI v3 schemas.

Kubernetes accepts only a subset of JSON Schema in a CRD: no $ref, no nullable
unions, a type on every node. This module rewrites pydantic's output into that
subset, keeping descriptions (for `kubectl explain`), bounds, patterns, enums
and the x-kubernetes-* extensions declared on the models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Keys copied verbatim from pydantic's output; everything else is rebuilt or dropped.
_PASSTHROUGH = (
    "description",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "enum",
    "format",
)

JsonSchema = dict[str, Any]


def structural_schema(model: type[BaseModel], with_defaults: bool = False) -> JsonSchema:
    """The structural schema of one model, all references inlined.

    with_defaults copies scalar defaults, so the API server stores effective values
    (and CEL rules can rely on them); status schemas leave them out.
    """
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs, with_defaults)


def _resolve(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    while "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        # Field-level keys (description, extensions) win over the referenced model's.
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _convert(node: JsonSchema, defs: dict[str, JsonSchema], with_defaults: bool) -> JsonSchema:
    node = _resolve(node, defs)
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**_resolve(node["allOf"][0], defs), **{k: v for k, v in node.items() if k != "allOf"}}

    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(branches) == 1:
            return _convert({**_resolve(branches[0], defs), **rest}, defs, with_defaults)
        # A union of scalars (e.g. a parameter's default): accept any value.
        out: JsonSchema = {"x-kubernetes-preserve-unknown-fields": True}
        if "description" in rest:
            out["description"] = rest["description"]
        return out

    out = {key: node[key] for key in _PASSTHROUGH if key in node}
    out.update({k: v for k, v in node.items() if k.startswith("x-kubernetes-")})
    # Kubernetes speaks draft-4 bounds: a number plus a boolean "exclusive" flag.
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if flag in node:
            out[bound] = node[flag]
            out[flag] = True
    default = node.get("default")
    if with_defaults and default is not None and not isinstance(default, dict | list):
        out["default"] = default
    if "const" in node:
        out["enum"] = [node["const"]]

    kind = node.get("type")
    if kind == "object" or "properties" in node:
        out["type"] = "object"
        props = node.get("properties", {})
        if props:
            out["properties"] = {name: _convert(sub, defs, with_defaults) for name, sub in props.items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = _convert(extra, defs, with_defaults)
        elif not props and "x-kubernetes-preserve-unknown-fields" not in out:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out["type"] = "array"
        out["items"] = _convert(node.get("items", {}), defs, with_defaults)
    elif kind in ("string", "integer", "number", "boolean"):
        out["type"] = kind
    elif "enum" in out:
        values = out["enum"]
        out["type"] = "string" if all(isinstance(v, str) for v in values) else "number"
    elif not kind:
        out["x-kubernetes-preserve-unknown-fields"] = True
    else:
        raise ValueError(f"cannot express JSON schema type {kind!r} in a CRD")
    return out

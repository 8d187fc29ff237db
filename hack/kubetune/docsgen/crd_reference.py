"""docs/reference/crds.md: every kind and every field, generated from the resource models.

    python -m kubetune.docsgen.crd_reference            # rewrite the page
    python -m kubetune.docsgen.crd_reference --check    # exit 1 when it is stale

The tables walk the same structural schema that the CRDs carry (kubetune.crd.crd_yaml, built
from the pydantic models in kubetune.crd), so a field, default, bound or CEL rule appears here
exactly as the API server enforces it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubetune.crd.base import GROUP, VERSION
from kubetune.crd.crd_yaml import crd_for
from kubetune.crd.kinds import ALL_KINDS, Kind
from kubetune.docsgen.output import REPO_ROOT, cell, code, write_or_check

DOC = REPO_ROOT / "docs" / "reference" / "crds.md"
Schema = dict[str, Any]


@dataclass(frozen=True)
class Field:
    path: str
    type: str
    default: str
    constraints: str
    description: str


def type_name(node: Schema) -> str:
    if node.get("x-kubernetes-preserve-unknown-fields") and "type" not in node:
        return "any"
    kind = str(node.get("type", "any"))
    if kind == "array":
        return f"[]{type_name(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{type_name(node['additionalProperties'])}"
    if "format" in node:
        return f"{kind} ({node['format']})"
    return kind


def _literal(value: Any) -> str:
    return value if isinstance(value, str) and value else json.dumps(value)


def constraints(node: Schema, required: bool) -> str:
    """The schema's rules in words: required, bounds, lengths, pattern, enum, list semantics, CEL."""
    parts = ["required"] if required else []
    for bound, flag, word, strict in (("minimum", "exclusiveMinimum", ">=", ">"),
                                      ("maximum", "exclusiveMaximum", "<=", "<")):
        if bound in node:
            parts.append(f"{strict if node.get(flag) else word} {_literal(node[bound])}")
    for key, word in (("minLength", "length >="), ("maxLength", "length <="),
                      ("minItems", "items >="), ("maxItems", "items <=")):
        if key in node:
            parts.append(f"{word} {node[key]}")
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    if "enum" in node:
        parts.append("one of " + ", ".join(f"`{_literal(v)}`" for v in node["enum"]))
    if node.get("x-kubernetes-list-type") == "map":
        parts.append("list map keyed by " + ", ".join(node.get("x-kubernetes-list-map-keys", [])))
    for rule in node.get("x-kubernetes-validations", []):
        parts.append(f"rule `{rule['rule']}` ({rule['message']})")
    return "; ".join(parts)


def fields(node: Schema, path: str, required: bool = False) -> Iterator[Field]:
    """Depth first, in declaration order; arrays add `[]`, maps add `{key}` to the path."""
    default = _literal(node["default"]) if "default" in node else ""
    yield Field(path, type_name(node), default, constraints(node, required), node.get("description", ""))
    must = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        yield from fields(child, f"{path}.{name}", name in must)
    items = node.get("items") if node.get("type") == "array" else None
    if items and ("properties" in items or "x-kubernetes-validations" in items):
        yield from _nested(items, f"{path}[]")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "properties" in extra:
        yield from _nested(extra, f"{path}{{key}}")


def _nested(node: Schema, path: str) -> Iterator[Field]:
    """Fields of a list item or map value; the element itself gets a row only for its rules."""
    rows = fields(node, path)
    element = next(rows)
    if element.constraints:
        yield Field(path, element.type, "", element.constraints, "Each element.")
    yield from rows


def _table(rows: Iterator[Field]) -> list[str]:
    lines = ["| Field | Type | Default | Constraints | Description |", "|---|---|---|---|---|"]
    for f in rows:
        lines.append(f"| {code(f.path)} | {code(f.type)} | {code(f.default)} | {cell(f.constraints)} "
                     f"| {cell(f.description)} |")
    return lines


def kind_section(kind: Kind) -> list[str]:
    crd = crd_for(kind)
    version = crd["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    names = crd["spec"]["names"]
    lines = [
        f"## {kind.kind}",
        "",
        cell(kind.description),
        "",
        f"- apiVersion: `{GROUP}/{VERSION}`; scope: {kind.scope}",
        f"- plural `{names['plural']}`, singular `{names['singular']}`, short names "
        + (", ".join(f"`{s}`" for s in names["shortNames"]) or "none")
        + ", categories " + ", ".join(f"`{c}`" for c in names["categories"]),
        f"- models: `{kind.spec.__module__}.{kind.spec.__name__}`, `{kind.status.__module__}.{kind.status.__name__}`",
        f"- subresources: {', '.join(sorted(version.get('subresources', {}))) or 'none'}",
        "",
        "`kubectl get` columns:",
        "",
        "| Column | JSONPath | Type | Shown |",
        "|---|---|---|---|",
    ]
    for col in version.get("additionalPrinterColumns", []):
        lines.append(f"| {cell(col['name'])} | {code(col['jsonPath'])} | {col['type']} "
                     f"| {'-o wide' if col.get('priority') else 'always'} |")
    if root.get("x-kubernetes-validations"):
        lines += ["", "Object rules:", ""]
        lines += [f"- `{r['rule']}`: {r['message']}" for r in root["x-kubernetes-validations"]]
    for part in ("spec", "status"):
        lines += ["", f"### {kind.kind} {part}", "", *_table(fields(root["properties"][part], part))]
    return [*lines, ""]


def render() -> str:
    lines = [
        "# CRD reference",
        "",
        "<!-- Generated by `python -m kubetune.docsgen.crd_reference` from kubetune.crd; do not edit. -->",
        "",
        f"Every kind in `{GROUP}/{VERSION}`, every field path, its type, default and constraints, as the",
        "CRDs in `manifests/crds/` (and the chart) declare them. Paths use `[]` for list elements and",
        "`{key}` for map values. `kubectl explain <kind>.spec` shows the same descriptions.",
        "",
        *[f"- [{k.kind}](#{k.kind.lower()})" for k in ALL_KINDS],
        "",
    ]
    for kind in ALL_KINDS:
        lines += kind_section(kind)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(argv, render, DOC, __doc__)


if __name__ == "__main__":
    sys.exit(main())

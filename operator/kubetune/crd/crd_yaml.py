"""Render a Kind as a CustomResourceDefinition object."""

from __future__ import annotations

from typing import Any

from kubetune.crd.base import GROUP, VERSION
from kubetune.crd.kinds import Kind
from kubetune.crd.schema import JsonSchema, structural_schema


def _node_at(schema: JsonSchema, path: str) -> JsonSchema:
    """Walk a dotted path ('spec.hpo.parameters[]') through properties and items."""
    node = schema
    for part in filter(None, path.split(".")):
        is_list = part.endswith("[]")
        node = node["properties"][part.removesuffix("[]")]
        if is_list:
            node = node["items"]
    return node


def _conditions_as_map(status_schema: JsonSchema) -> None:
    conditions = status_schema.get("properties", {}).get("conditions")
    if conditions:
        conditions["x-kubernetes-list-type"] = "map"
        conditions["x-kubernetes-list-map-keys"] = ["type"]


def crd_for(kind: Kind) -> dict[str, Any]:
    spec_schema = structural_schema(kind.spec, with_defaults=True)
    status_schema = structural_schema(kind.status)
    _conditions_as_map(status_schema)
    spec_schema["description"] = f"Desired state of the {kind.kind}."
    status_schema["description"] = f"Observed state of the {kind.kind}."
    root: JsonSchema = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    for rule in kind.rules:
        entry: dict[str, str] = {"rule": rule.rule, "message": rule.message}
        if rule.field_path:
            entry["fieldPath"] = rule.field_path
        _node_at(root, rule.path).setdefault("x-kubernetes-validations", []).append(entry)

    columns = []
    for col in kind.columns:
        c: dict[str, Any] = {"name": col.name, "type": col.type, "jsonPath": col.json_path}
        if col.description:
            c["description"] = col.description
        if col.priority:
            c["priority"] = col.priority
        columns.append(c)

    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/part-of": "kubetune"}},
        "spec": {
            "group": GROUP,
            "scope": kind.scope,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }

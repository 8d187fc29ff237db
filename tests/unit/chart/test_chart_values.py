"""values.yaml, the Values model and the generated schema agree; typos are rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_helpers import helm_template
from pydantic import ValidationError

from kubetune.chart.helm import CHART_DIR
from kubetune.chart.schema import values_schema
from kubetune.chart.values import Values, default_values

pytestmark = pytest.mark.unit
VALUES_YAML = CHART_DIR / "values.yaml"


def _keys(node: Any, prefix: str = "") -> set[str]:
    """Every dotted key path of the nested mappings (lists are leaves)."""
    if not isinstance(node, dict):
        return set()
    out: set[str] = set()
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        out |= {path} | _keys(value, path)
    return out


def test_values_yaml_spells_out_exactly_the_model_defaults() -> None:
    raw = yaml.safe_load(VALUES_YAML.read_text())
    parsed = Values.model_validate(raw).model_dump(by_alias=True, mode="json", exclude_none=True)
    assert parsed == default_values()
    # Every default is written in values.yaml (nothing only the model knows about), and back.
    assert _keys(raw) == _keys(default_values())


def _documented(lines: list[str], index: int) -> bool:
    """A comment right above the line, or a documented parent (the nearest less-indented line)."""
    if index > 0 and lines[index - 1].strip().startswith("#"):
        return True
    indent = len(lines[index]) - len(lines[index].lstrip())
    for above in range(index - 1, -1, -1):
        text = lines[above]
        if text.strip() and not text.strip().startswith("#") and len(text) - len(text.lstrip()) < indent:
            return _documented(lines, above)
    return False


def test_every_value_has_a_comment() -> None:
    lines = VALUES_YAML.read_text().splitlines()
    leaves = [i for i, line in enumerate(lines)
              if line.strip() and not line.strip().startswith("#") and not line.rstrip().endswith(":")]
    assert [lines[i].strip() for i in leaves if not _documented(lines, i)] == []


def test_schema_forbids_unknown_keys_on_every_object() -> None:
    def walk(node: Any, path: str) -> list[str]:
        if isinstance(node, list):
            return [p for i, item in enumerate(node) for p in walk(item, f"{path}[{i}]")]
        if not isinstance(node, dict):
            return []
        bad = [path] if "properties" in node and node.get("additionalProperties") is not False else []
        for key in ("properties",):
            for name, child in node.get(key, {}).items():
                bad += walk(child, f"{path}.{name}")
        for key in ("items", "anyOf", "additionalProperties"):
            if key in node:
                bad += walk(node[key], f"{path}.{key}")
        return bad

    schema = values_schema()
    assert schema["additionalProperties"] is False
    assert walk(schema, "$") == []


def test_model_rejects_a_typo() -> None:
    with pytest.raises(ValidationError, match="replica"):
        Values.model_validate({"operator": {"replica": 2}})


@pytest.mark.parametrize("values, message", [
    ({"operator.replicaCount": "2"}, "replicaCount"),
    ({"storage.type": "nfs"}, "/storage/type"),
    ({"api.ingress.hosts": "x"}, "hosts"),
    ({"operator.replicas": "0"}, "replicas"),
])
def test_helm_rejects_values_the_schema_does_not_allow(helm: Path, values: dict[str, str], message: str) -> None:
    done = helm_template(helm, values)
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr
    assert message in done.stderr


def test_every_row_of_the_values_reference_has_a_description() -> None:
    from kubetune.chart.reference import render_reference

    rows = [line for line in render_reference().splitlines() if line.startswith("| `")]
    assert len(rows) > 80
    assert [row for row in rows if row.rstrip().endswith("|  |")] == []

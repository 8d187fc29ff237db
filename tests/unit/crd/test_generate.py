"""The committed CRD YAML is exactly what the models generate, and is structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubetune.crd.crd_yaml import crd_for
from kubetune.crd.generate import default_out_dir, main, render_all
from kubetune.crd.kinds import ALL_KINDS, TRAINING


def test_committed_crds_match_the_generator() -> None:
    out = default_out_dir()
    for name, text in render_all().items():
        assert (out / name).read_text() == text, f"{name} is stale: run python -m kubetune.crd.generate"
    assert main(["--check"]) == 0


def test_check_mode_reports_drift(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    first = next(tmp_path.glob("*.yaml"))
    first.write_text(first.read_text() + "# edited\n")
    assert main(["--out", str(tmp_path), "--check"]) == 1


def _walk(node: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema nodes that break the structural rules or lack a description."""
    problems = []
    if "$ref" in node or "anyOf" in node or "allOf" in node:
        problems.append(f"{path}: non-structural keyword")
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: no type")
    for name, sub in node.get("properties", {}).items():
        if name not in ("apiVersion", "kind", "metadata") and "description" not in sub:
            problems.append(f"{path}.{name}: no description")
        problems += _walk(sub, f"{path}.{name}")
    if "items" in node:
        problems += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += _walk(node["additionalProperties"], f"{path}{{}}")
    return problems


def test_every_field_is_structural_and_documented() -> None:
    for kind in ALL_KINDS:
        schema = crd_for(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert _walk(schema) == [], kind.kind


def test_training_crd_has_status_columns_and_cel_rules() -> None:
    crd = crd_for(TRAINING)
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Phase", "Progress", "Steps", "Loss", "ETA", "Reason", "Trainer", "Method", "Nodes", "Age"]
    root = version["schema"]["openAPIV3Schema"]
    rules = [r["rule"] for r in root.get("x-kubernetes-validations", [])]
    assert any("oldSelf.status.startTime" in r for r in rules)
    dataset = root["properties"]["spec"]["properties"]["dataset"]
    assert dataset["x-kubernetes-validations"][0]["message"] == "dataset needs exactly one of ref or uri"
    conditions = root["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    # Short names must not collide with KServe (isvc) or Kubeflow.
    assert "isvc" not in crd["spec"]["names"]["shortNames"]


def test_generated_yaml_parses_back() -> None:
    for text in render_all().values():
        doc = yaml.safe_load(text)
        assert doc["kind"] == "CustomResourceDefinition"

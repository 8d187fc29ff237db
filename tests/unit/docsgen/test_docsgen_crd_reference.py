"""docs/reference/crds.md is current and lists every field the models declare."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from kubetune.crd.kinds import ALL_KINDS, TRAINING
from kubetune.docsgen import crd_reference

pytestmark = pytest.mark.unit


def test_committed_page_is_current() -> None:
    """Fails when a model changed: run `python -m kubetune.docsgen.crd_reference`."""
    assert crd_reference.main(["--check"]) == 0


def test_check_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "docs" / "reference" / "crds.md"
    monkeypatch.setattr(crd_reference, "DOC", page)
    monkeypatch.setattr("kubetune.docsgen.output.REPO_ROOT", tmp_path)
    assert crd_reference.main(["--check"]) == 1
    assert "stale: docs/reference/crds.md" in capsys.readouterr().err
    assert crd_reference.main([]) == 0
    assert page.read_text() == crd_reference.render()
    assert crd_reference.main(["--check"]) == 0


def _top_level_paths(part: str, model: type[BaseModel]) -> set[str]:
    return {f"`{part}.{f.alias or name}`" for name, f in model.model_fields.items()}


def test_every_top_level_field_of_every_kind_has_a_row() -> None:
    page = crd_reference.render()
    for kind in ALL_KINDS:
        assert f"## {kind.kind}\n" in page
        section = page.split(f"## {kind.kind}\n", 1)[1].split("\n## ", 1)[0]
        rows = {line.split(" | ")[0].removeprefix("| ") for line in section.splitlines() if line.startswith("| `")}
        assert _top_level_paths("spec", kind.spec) <= rows
        assert _top_level_paths("status", kind.status) <= rows


def test_rows_carry_type_default_constraints_and_cel_rules() -> None:
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in crd_reference.render().splitlines()
            if line.startswith("| `")}
    method = rows["`spec.method`"]
    assert "`string`" in method and "`lora`" in method and "one of `lora`, `qlora`, `full`" in method
    assert "required" in rows["`spec.trainerRef`"]
    dataset_rules = [r for r in TRAINING.rules if r.path == "spec.dataset"]
    assert dataset_rules and all(r.message in rows["`spec.dataset`"] for r in dataset_rules)
    assert "> 0" in rows["`spec.hyperparameters.learningRate`"]  # an exclusive bound


def test_constraints_in_words() -> None:
    node = {"type": "integer", "minimum": 1, "maximum": 8, "exclusiveMaximum": True,
            "x-kubernetes-validations": [{"rule": "self > 1", "message": "more than one"}]}
    assert crd_reference.constraints(node, required=True) == \
        "required; >= 1; < 8; rule `self > 1` (more than one)"
    assert crd_reference.type_name({"type": "object", "additionalProperties": {"type": "number"}}) == \
        "map[string]number"

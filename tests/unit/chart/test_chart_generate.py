"""The generated chart files and the kustomize base are what their sources produce today."""

from __future__ import annotations

import pytest
import yaml

from kubetune.chart import generate
from kubetune.chart.helm import REPO_ROOT

pytestmark = pytest.mark.unit


def test_generated_files_are_current() -> None:
    """Fails when the models, the chart or the base drifted: run `python -m kubetune.chart.generate`."""
    assert generate.main(["--check"]) == 0


def test_check_names_a_stale_file(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = generate.chart_files()
    schema = next(path for path in real if path.name == "values.schema.json")
    monkeypatch.setattr(generate, "chart_files", lambda: {**real, schema: real[schema] + " "})
    monkeypatch.setattr(generate, "base_files", dict)
    assert generate.main(["--check"]) == 1
    assert "stale: charts/kubetune/values.schema.json" in capsys.readouterr().err


def test_base_is_the_chart_without_generated_secrets() -> None:
    base = REPO_ROOT / "manifests" / "base"
    objects = [d for name in ("namespace.yaml", "crds.yaml", "kubetune.yaml")
               for d in yaml.safe_load_all((base / name).read_text()) if d]
    assert not [o for o in objects if o["kind"] == "Secret"]  # the overlays provide kubetune-auth
    labels = [o["metadata"].get("labels", {}) for o in objects]
    assert all(lbl.get("app.kubernetes.io/managed-by") != "Helm" for lbl in labels)
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["namespace.yaml", "crds.yaml", "kubetune.yaml"]

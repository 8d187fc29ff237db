"""Write the chart's generated files and the kustomize base, or check that they are current.

    python -m kubetune.chart.generate            # rewrite them
    python -m kubetune.chart.generate --check    # exit 1 and name the stale files

Generated, in order (the base is rendered from the chart, so it comes last):
  charts/kubetune/values.schema.json       from kubetune.chart.values
  charts/kubetune/templates/crds/*.yaml    from kubetune.crd (the same CRDs as manifests/crds/)
  charts/kubetune/files/parameters-*.yaml  from kubetune.chart.trainer_parameters
  docs/chart.md (the values table)         from kubetune.chart.values
  manifests/base/*.yaml                    `helm template` of the chart
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from kubetune.chart import crd_templates, kustomize_base, reference
from kubetune.chart.helm import CHART_DIR, REPO_ROOT
from kubetune.chart.schema import render_schema
from kubetune.chart.trainer_parameters import render_parameters

BASE_DIR = REPO_ROOT / "manifests" / "base"
CHART_DOC = REPO_ROOT / "docs" / "chart.md"
Renderer = Callable[[], dict[Path, str]]


def chart_files() -> dict[Path, str]:
    files = {CHART_DIR / "values.schema.json": render_schema()}
    files.update({CHART_DIR / "templates" / "crds" / name: text for name, text in crd_templates.render_all().items()})
    for method in ("lora", "qlora", "full"):
        files[CHART_DIR / "files" / f"parameters-{method}.yaml"] = render_parameters(method)
    files[CHART_DOC] = reference.render_doc(CHART_DOC)
    return files


def base_files() -> dict[Path, str]:
    return {BASE_DIR / name: text for name, text in kustomize_base.render_base().items()}


def stale(files: dict[Path, str]) -> list[Path]:
    return [path for path, text in files.items() if not path.exists() or path.read_text() != text]


def write(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(path.relative_to(REPO_ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        # The base is checked against the committed chart: a stale chart shows up first.
        out_of_date = stale(chart_files()) + stale(base_files())
        for path in out_of_date:
            print(f"stale: {path.relative_to(REPO_ROOT)}", file=sys.stderr)
        return 1 if out_of_date else 0
    write(chart_files())
    write(base_files())  # renders the chart just written
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""helm (built once per machine by hack/helm/build.sh) and a renderer over `helm template`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_helpers import Render, helm_template

from kubetune.chart.helm import helm_path


@pytest.fixture(scope="session")
def helm() -> Path:
    return helm_path()


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """Objects of `helm template` with --set values; fails the test with helm's message on error."""

    def _render(values: dict[str, str] | None = None, release: str = "kt") -> list[dict[str, Any]]:
        done = helm_template(helm, values, release)
        assert done.returncode == 0, done.stderr
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    return _render

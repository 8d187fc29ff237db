"""`helm template` and small lookups over rendered objects, shared by the chart tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubetune.chart.helm import CHART_DIR, set_args

Render = Callable[..., list[dict[str, Any]]]


def helm_template(helm: Path, values: dict[str, str] | None = None, release: str = "kt",
                  namespace: str = "kubetune-system") -> subprocess.CompletedProcess[str]:
    cmd = [str(helm), "template", release, str(CHART_DIR), "--namespace", namespace, *set_args(values or {})]
    return subprocess.run(cmd, capture_output=True, text=True)


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}

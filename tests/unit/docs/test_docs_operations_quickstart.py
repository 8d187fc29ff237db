"""docs/operations.md and docs/quickstart.md say what the code does: every metric the operator and
the inference server export is documented under its exported name, no other; the GPU values
example renders with the chart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kubetune.api.core.metrics import ApiMetrics
from kubetune.chart.helm import REPO_ROOT, helm_path, template
from kubetune.operator.metrics import Metrics
from kubetune.serve.metrics import ServeMetrics

pytestmark = pytest.mark.unit

DOCS = REPO_ROOT / "docs"


def _exported_names() -> set[str]:
    """Series names as Prometheus sees them: counters with _total, histograms by family name."""
    names = set()
    for registry in (Metrics().registry, ServeMetrics().registry, ApiMetrics().registry):
        for family in registry.collect():
            names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_every_exported_metric_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"`(kubetune_(?:operator|serve|api)_[a-z_]+)`", (DOCS / "operations.md").read_text()))
    assert documented == _exported_names()


def test_the_gpu_values_example_is_valid_for_the_chart(tmp_path: Path) -> None:
    block = re.search(r"`values-gpu.yaml`:\n\n```yaml\n(.*?)```", (DOCS / "quickstart.md").read_text(), re.DOTALL)
    assert block, "docs/quickstart.md lost its values-gpu.yaml example"
    path = tmp_path / "values-gpu.yaml"
    path.write_text(block.group(1))
    # Fails with helm's message when the schema (additionalProperties: false) refuses a key.
    objects = [d for d in yaml.safe_load_all(template("kubetune", "kubetune-system", values_files=[path],
                                                      helm=helm_path())) if d]
    lora = next(o for o in objects if o["kind"] == "Trainer" and o["metadata"]["name"] == "lora")
    assert lora["spec"]["resources"]["gpuProduct"] == "NVIDIA-A100-SXM4-80GB"
    # auth.existingSecret: the chart makes no auth Secret of its own.
    assert not [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-auth")]

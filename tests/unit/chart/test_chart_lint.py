"""`helm lint --strict` is clean, with the defaults and with every optional part switched on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubetune.chart.helm import CHART_DIR, set_args

pytestmark = pytest.mark.unit

EVERYTHING_ON = {
    "api.ingress.enabled": "true", "api.ingress.tls.enabled": "true", "metrics.serviceMonitor.enabled": "true",
    "networkPolicy.enabled": "true", "operator.replicas": "2", "operator.watchNamespaces[0]": "team-a",
}


@pytest.mark.parametrize("values", [{}, EVERYTHING_ON, {"storage.type": "s3", "storage.s3.bucket": "b"}],
                         ids=["defaults", "everything-on", "s3"])
def test_helm_lint_strict_is_clean(helm: Path, values: dict[str, str]) -> None:
    done = subprocess.run([str(helm), "lint", "--strict", str(CHART_DIR), *set_args(values)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout

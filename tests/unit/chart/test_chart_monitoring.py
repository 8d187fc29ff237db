"""Monitoring that ships with the chart: ServiceMonitors for the operator and the api, the api's metrics port,
a PrometheusRule and a Grafana dashboard whose queries name only series kubetune exports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from chart_helpers import find, one

from kubetune.api.core.metrics import ApiMetrics
from kubetune.operator.metrics import Metrics
from kubetune.serve.metrics import ServeMetrics

pytestmark = pytest.mark.unit

ON = {"metrics.serviceMonitor.enabled": "true", "metrics.prometheusRule.enabled": "true",
      "metrics.grafanaDashboard.enabled": "true"}


def _series() -> set[str]:
    """Every series name a query may use: counters with _total, histograms' _bucket/_sum/_count."""
    names = set()
    for registry in (Metrics().registry, ServeMetrics().registry, ApiMetrics().registry):
        for family in registry.collect():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            else:
                names.add(family.name)
    return names


def _named(expr: str) -> set[str]:
    return set(re.findall(r"\bkubetune_[a-z_]+", expr))


def test_off_by_default(render: Any) -> None:
    objects = render()
    assert not [o for o in objects if o["kind"] in ("ServiceMonitor", "PrometheusRule")]
    assert not find(objects, "ConfigMap", "kt-kubetune-dashboard")


def test_the_api_serves_metrics_on_its_own_port_and_both_components_are_scraped(render: Any) -> None:
    objects = render(ON)
    api = next(d for d in find(objects, "Deployment") if "api" in d["metadata"]["name"])
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9090} in container["ports"]
    assert {"name": "KUBETUNE_API_METRICS_PORT", "value": "9090"} in container["env"]
    service = next(s for s in find(objects, "Service") if s["metadata"]["name"] == api["metadata"]["name"])
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    monitors = find(objects, "ServiceMonitor")
    assert len(monitors) == 2
    for monitor in monitors:
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    selected = [m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for m in monitors]
    assert sorted(selected) == ["api", "operator"]


def test_alerts_and_dashboard_query_only_exported_series(render: Any) -> None:
    objects = render(ON)
    exported = _series()
    rules = one(objects, "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert len(rules) >= 7
    for rule in rules:
        used = _named(rule["expr"])
        assert used and used <= exported, (rule["alert"], used - exported)
    board: dict[str, Any] = json.loads(one(objects, "ConfigMap", "kt-kubetune-dashboard")["data"]["kubetune.json"])
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        used = _named(expr)
        assert used and used <= exported, (expr, used - exported)

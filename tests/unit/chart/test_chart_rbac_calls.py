"""Every API call the operator's code spells out (`kube.<verb>("<apiVersion>", "<Kind>", ...)`) is allowed by
the chart's RBAC for its ServiceAccount: the ClusterRole, or the Role in the release namespace for calls there.

A hand-kept list (test_chart_rbac.py) missed the group restart's Job delete: the local node runs the operator
with admin rights, so only the real cluster saw the 403. This reads the calls from the source instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import Render, one
from test_chart_rbac import allows

pytestmark = pytest.mark.unit

OPERATOR_SRC = Path(__file__).resolve().parents[3] / "operator" / "kubetune" / "operator"
CALL = re.compile(r"kube\.(get|create|patch|delete|replace)\(\s*\"([^\"]+)\",\s*\"([A-Za-z]+)\",\s*([^,]+),")
VERBS = {"get": "get", "create": "create", "patch": "patch", "delete": "delete", "replace": "update"}
# The two stores, and the calls each one never makes: (file, group, plural, verb).
STORES = {
    "pvc": ({}, {("handlers/storage.py", "", "secrets", "get"), ("handlers/store_cleanup.py", "", "secrets", "get")}),
    "s3": ({"storage.type": "s3", "storage.s3.bucket": "b", "storage.s3.existingSecret": "s3-creds"},
           {("handlers/storage.py", "", plural, verb) for plural in ("persistentvolumeclaims", "persistentvolumes")
            for verb in ("get", "patch")} | {("handlers/training.py", "", "persistentvolumeclaims", "get")}),
}


def literal_calls() -> list[tuple[str, str, str, str, str]]:
    """(file:line, group, plural, verb, namespace expression) of each literal call."""
    found = []
    for path in sorted(OPERATOR_SRC.rglob("*.py")):
        text = path.read_text()
        for m in CALL.finditer(text):
            verb, api_version, kind, namespace = m.groups()
            group = api_version.rpartition("/")[0]
            plural = kind.lower() if kind.endswith("s") else kind.lower() + "s"
            line = text.count("\n", 0, m.start()) + 1
            found.append((f"{path.relative_to(OPERATOR_SRC)}:{line}", group, plural, VERBS[verb], namespace.strip()))
    return found


def test_the_scan_finds_the_calls() -> None:
    calls = literal_calls()
    assert len(calls) >= 20
    assert any(c[1:4] == ("batch", "jobs", "delete") for c in calls)


@pytest.mark.parametrize("store", sorted(STORES))
def test_every_literal_call_is_allowed(render: Render, store: str) -> None:
    values, not_made = STORES[store]
    objects = render(values)
    cluster_rules: list[dict[str, Any]] = one(objects, "ClusterRole", "kt-kubetune-operator")["rules"]
    own_rules: list[dict[str, Any]] = one(objects, "Role", "kt-kubetune-operator")["rules"]
    refused = []
    for where, group, plural, verb, namespace in literal_calls():
        if (where.partition(":")[0], group, plural, verb) in not_made:
            continue
        in_own_namespace = "pod_namespace" in namespace or "self.namespace" in namespace
        if allows(cluster_rules, group, plural, verb) or (in_own_namespace and allows(own_rules, group, plural, verb)):
            continue
        # resourceNames-limited rules: any name the chart grants counts (the call's name is not a literal here).
        rules = cluster_rules + (own_rules if in_own_namespace else [])
        named = [r for r in rules if r.get("resourceNames") and group in r["apiGroups"]
                 and plural in r["resources"] and verb in r["verbs"]]
        if not named:
            refused.append(f"{where}: {verb} {group or 'core'}/{plural} in {namespace}")
    assert refused == []

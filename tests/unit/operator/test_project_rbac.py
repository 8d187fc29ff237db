"""A new project's owner becomes its admin: the builder and the handler's decisions, as plain functions."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr
from kubetune.operator.builders.project_rbac import build_admin_binding, owner_of, with_owner

pytestmark = pytest.mark.unit


def _ns(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "kt-p-1", "labels": labels, "annotations": annotations}}


def test_only_project_namespaces_with_an_owner_get_a_binding() -> None:
    assert owner_of(_ns({lbl.PROJECT: "p"}, {lbl.OWNER: "alice"})) == "alice"
    assert owner_of(_ns({}, {lbl.OWNER: "alice"})) is None  # not a project
    assert owner_of(_ns({lbl.PROJECT: "p"}, {})) is None  # made with kubectl: its admin binds members


def test_admin_binding_is_deterministic_and_grants_only_the_project_admin_role() -> None:
    binding = build_admin_binding("kt-p-1", "alice")
    assert binding["metadata"]["name"] == pr.binding_name("admin") == "kubetune-admin"
    assert binding["metadata"]["namespace"] == "kt-p-1"
    assert binding["metadata"]["labels"][pr.ROLE_LABEL] == "admin"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "kubetune-project-admin"}
    assert binding["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io",
                                    "name": "kubetune:user:alice"}]


def test_a_new_owner_is_added_never_anyone_removed() -> None:
    binding = build_admin_binding("kt-p-1", "alice")
    assert with_owner(binding, "alice") is None
    subjects = with_owner(binding, "bob")
    assert subjects is not None
    assert [s["name"] for s in subjects] == ["kubetune:user:alice", "kubetune:user:bob"]

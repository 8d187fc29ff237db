"""A new project's owner becomes its admin: the builder and the handler's decisions, as plain functions."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr
from kubetune.operator.builders.project_rbac import GRANTED_OWNER, build_admin_binding, owner_grant, owner_of

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


def test_a_new_owner_is_added_once_never_anyone_removed() -> None:
    binding = build_admin_binding("kt-p-1", "alice")
    assert binding["metadata"]["annotations"] == {GRANTED_OWNER: "alice"}
    assert owner_grant(binding, "alice") is None
    patch = owner_grant({**binding, "metadata": {**binding["metadata"], "resourceVersion": "7"}}, "bob")
    assert patch is not None
    assert [s["name"] for s in patch["subjects"]] == ["kubetune:user:alice", "kubetune:user:bob"]
    assert patch["metadata"] == {"resourceVersion": "7", "annotations": {GRANTED_OWNER: "bob"}}
    removed = {**binding, "subjects": []}  # a project admin took alice out: she is not granted again
    assert owner_grant(removed, "alice") is None


class _Kube:
    """Just what ensure_owner_is_admin calls, over a dict of RoleBindings (409 on a second create)."""

    def __init__(self) -> None:
        self.bindings: dict[tuple[str, str], dict[str, Any]] = {}
        self.patches: list[dict[str, Any]] = []

    def create(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        if key in self.bindings:
            return None
        self.bindings[key] = {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": "1"}}
        return self.bindings[key]

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.bindings.get((namespace, name))

    def patch(self, api_version: str, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(patch)
        binding = self.bindings[(namespace, name)]
        binding["subjects"] = patch["subjects"]
        binding["metadata"]["annotations"] = {**binding["metadata"].get("annotations", {}),
                                              **patch["metadata"]["annotations"]}
        return binding


def test_the_handler_creates_once_then_only_adds_a_changed_owner() -> None:
    from kubetune.operator.handlers.project_access import ensure_owner_is_admin

    kube = _Kube()
    ensure_owner_is_admin(kube, _ns({lbl.PROJECT: "p"}, {lbl.OWNER: "alice"}))  # type: ignore[arg-type]
    ensure_owner_is_admin(kube, _ns({lbl.PROJECT: "p"}, {lbl.OWNER: "alice"}))  # type: ignore[arg-type]
    assert kube.patches == []  # every event re-checks; nothing to do the second time
    ensure_owner_is_admin(kube, _ns({lbl.PROJECT: "p"}, {lbl.OWNER: "bob"}))  # type: ignore[arg-type]
    subjects = kube.bindings[("kt-p-1", "kubetune-admin")]["subjects"]
    assert [s["name"] for s in subjects] == ["kubetune:user:alice", "kubetune:user:bob"]
    assert kube.patches[0]["metadata"]["resourceVersion"] == "1"  # a concurrent edit is a 409, retried
    kube.bindings[("kt-p-1", "kubetune-admin")]["subjects"] = subjects[:1]  # an admin removed bob
    ensure_owner_is_admin(kube, _ns({lbl.PROJECT: "p"}, {lbl.OWNER: "bob"}))  # type: ignore[arg-type]
    assert len(kube.patches) == 1  # the next Namespace event does not bring him back
    ensure_owner_is_admin(kube, _ns({}, {lbl.OWNER: "carol"}))  # type: ignore[arg-type]
    assert len(kube.bindings) == 1

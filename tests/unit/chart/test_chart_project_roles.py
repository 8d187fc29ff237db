"""The chart's project roles are exactly kubetune.crd.project_roles, and bound as the facade expects."""

from __future__ import annotations

import pytest
from chart_helpers import Render, one

from kubetune.crd import project_roles as pr

pytestmark = pytest.mark.unit


def test_cluster_roles_equal_the_python_definition(render: Render) -> None:
    objects = render()
    expected = {pr.cluster_role_name(r): pr.RULES[r] for r in pr.ROLES}
    expected[pr.PLATFORM_ADMIN_ROLE] = pr.platform_admin_rules()
    expected[pr.TRAINER_READER_ROLE] = pr.trainer_reader_rules()
    for name, rules in expected.items():
        assert one(objects, "ClusterRole", name)["rules"] == rules, name


def test_platform_admins_and_signed_in_groups_are_bound(render: Render) -> None:
    objects = render()
    admins = one(objects, "ClusterRoleBinding", pr.PLATFORM_ADMIN_ROLE)
    assert admins["roleRef"]["name"] == pr.PLATFORM_ADMIN_ROLE
    assert [s["name"] for s in admins["subjects"]] == [pr.ADMINS_GROUP]
    readers = one(objects, "ClusterRoleBinding", pr.TRAINER_READER_ROLE)
    assert [s["name"] for s in readers["subjects"]] == list(pr.SIGNED_IN_GROUPS)


def test_roles_grow_viewer_editor_admin_and_only_admins_manage_membership() -> None:
    def grants(role: pr.Role, group: str, resource: str, verb: str, name: str = "") -> bool:
        return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
                   and (not r.get("resourceNames") or name in r["resourceNames"]) for r in pr.RULES[role])

    assert grants("viewer", "kubetune.io", "trainings", "list")
    assert not grants("viewer", "kubetune.io", "trainings", "create")
    assert grants("editor", "kubetune.io", "trainings", "create")
    assert not grants("editor", "rbac.authorization.k8s.io", "rolebindings", "create")
    assert grants("admin", "rbac.authorization.k8s.io", "clusterroles", "bind", pr.cluster_role_name("editor"))
    assert not grants("admin", "rbac.authorization.k8s.io", "clusterroles", "bind", "cluster-admin")
    assert grants("admin", "rbac.authorization.k8s.io", "rolebindings", "delete", "kubetune-viewer")
    assert not grants("admin", "rbac.authorization.k8s.io", "rolebindings", "delete", "train-run-1")
    for role in pr.ROLES:  # nobody in a project runs arbitrary workloads directly
        assert not grants(role, "batch", "jobs", "create") and not grants(role, "", "pods", "create")


def test_a_second_release_leaves_the_project_roles_to_the_first(render: Render) -> None:
    objects = render({"projectRoles.enabled": "false"})
    names = {o["metadata"]["name"] for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")}
    assert not names & ({pr.cluster_role_name(r) for r in pr.ROLES} | {pr.PLATFORM_ADMIN_ROLE})
    assert "kt-kubetune-api" in names  # the release's own roles stay

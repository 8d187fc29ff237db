"""The operator's and the api's ClusterRoles cover what their code does, and no more than listed."""

from __future__ import annotations

from typing import Any

import pytest
from chart_helpers import Render, one

from kubetune.operator.builders.rbac import build_role
from kubetune.operator.owner import Owner

pytestmark = pytest.mark.unit

Rule = dict[str, Any]


def allows(rules: list[Rule], group: str, resource: str, verb: str, name: str | None = None) -> bool:
    for rule in rules:
        if group not in rule["apiGroups"] or resource not in rule["resources"] or verb not in rule["verbs"]:
            continue
        if "resourceNames" in rule and (name is None or name not in rule["resourceNames"]):
            continue
        return True
    return False


# (group, resource, verb) for every call in operator/kubetune/operator (handlers, kube, leader, events).
OPERATOR_NEEDS = [
    *[("kubetune.io", plural, verb) for plural in ("trainers", "trainings", "inferenceservices", "datasets")
      for verb in ("get", "list", "watch", "patch")],
    *[("kubetune.io", f"{plural}/status", "patch")
      for plural in ("trainers", "trainings", "inferenceservices", "datasets")],
    ("kubetune.io", "trainings", "create"), ("kubetune.io", "inferenceservices", "create"),
    *[("batch", "jobs", verb) for verb in ("get", "list", "watch", "create", "patch", "delete")],
    *[("apps", "deployments", verb) for verb in ("get", "list", "watch", "create", "patch")],
    *[("", "pods", verb) for verb in ("get", "list", "watch")],
    ("", "serviceaccounts", "create"), ("", "configmaps", "create"), ("", "services", "create"),
    ("rbac.authorization.k8s.io", "roles", "create"), ("rbac.authorization.k8s.io", "rolebindings", "create"),
    ("policy", "poddisruptionbudgets", "create"), ("policy", "poddisruptionbudgets", "delete"),
    *[(group, resource, verb) for group, resource in (("autoscaling", "horizontalpodautoscalers"),
                                                      ("keda.sh", "scaledobjects"))
      for verb in ("create", "patch", "delete")],
    ("", "events", "create"),
    # The artifact claim in project namespaces (storage.type pvc, the default).
    *[("", resource, verb) for resource in ("persistentvolumeclaims", "persistentvolumes")
      for verb in ("get", "create")],
    ("", "persistentvolumes", "patch"),
]


def test_operator_cluster_role_covers_its_calls(render: Render) -> None:
    rules = one(render(), "ClusterRole", "kt-kubetune-operator")["rules"]
    missing = [need for need in OPERATOR_NEEDS if not allows(rules, *need)]
    assert missing == []


def test_operator_cannot_read_secrets_or_delete_most_children(render: Render) -> None:
    rules = one(render(), "ClusterRole", "kt-kubetune-operator")["rules"]
    # It creates each server's key Secret (and object-store copies); it never reads or changes one.
    assert not any(allows(rules, "", "secrets", verb) for verb in ("get", "list", "watch", "patch", "update"))
    assert allows(rules, "", "secrets", "create")
    # The garbage collector deletes children; the one exception is a multi-node group's failed Job, which a
    # group restart replaces (handlers/gang.py).
    assert not any(allows(rules, "", kind, "delete") for kind in ("pods", "services", "configmaps", "secrets"))
    assert not allows(rules, "apps", "deployments", "delete")
    assert not allows(rules, "rbac.authorization.k8s.io", "roles", "escalate")
    assert not allows(rules, "rbac.authorization.k8s.io", "rolebindings", "bind")
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in rules)


def test_operator_holds_what_it_grants_to_each_training(render: Render) -> None:
    """Without `escalate`, Kubernetes lets the operator create the per-Training Role only if it
    holds every permission the Role grants."""
    rules = one(render(), "ClusterRole", "kt-kubetune-operator")["rules"]
    role = build_role(Owner(api_version="kubetune.io/v1alpha1", kind="Training", name="run-1",
                            uid="u-1", namespace="team-a"))
    for granted in role["rules"]:
        for group in granted["apiGroups"]:
            for resource in granted["resources"]:
                for verb in granted["verbs"]:
                    assert allows(rules, group, resource, verb), (group, resource, verb)


def test_namespaces_are_watched_and_patched_never_created_or_deleted(render: Render) -> None:
    """Project Namespaces get their NetworkPolicies and first RoleBinding from the operator, and its
    finalizer (patch; the admission policy keeps that to project namespaces)."""
    for values in ({}, {"operator.watchNamespaces[0]": "team-*"}):
        rules = one(render(values), "ClusterRole", "kt-kubetune-operator")["rules"]
        assert all(allows(rules, "", "namespaces", verb) for verb in ("get", "list", "watch", "patch"))
        assert not any(allows(rules, "", "namespaces", verb) for verb in ("create", "update", "delete"))


def test_api_roles(render: Render) -> None:
    """The facade impersonates its callers: its own account reads (watch cache), reviews, creates and
    deletes project Namespaces, numbers objects, and writes nothing else in projects."""
    objects = render()
    cluster = one(objects, "ClusterRole", "kt-kubetune-api")["rules"]
    for need in [("", "users", "impersonate"), ("", "groups", "impersonate"), ("", "serviceaccounts", "impersonate"),
                 ("authorization.k8s.io", "subjectaccessreviews", "create"),
                 ("authentication.k8s.io", "tokenreviews", "create"),
                 ("", "namespaces", "create"), ("", "namespaces", "delete"), ("", "nodes", "watch"),
                 ("kubetune.io", "trainings", "watch"), ("rbac.authorization.k8s.io", "rolebindings", "watch")]:
        assert allows(cluster, *need), need
    for forbidden in [("kubetune.io", "trainings", "create"), ("kubetune.io", "trainings", "delete"),
                      ("kubetune.io", "trainings/status", "patch"), ("kubetune.io", "trainers", "create"),
                      ("batch", "jobs", "create"), ("", "pods", "create"), ("", "configmaps", "create"),
                      ("", "configmaps", "update"), ("rbac.authorization.k8s.io", "rolebindings", "create"),
                      ("", "secrets", "get")]:
        assert not allows(cluster, *forbidden), forbidden
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in cluster)
    role = one(objects, "Role", "kt-kubetune-api")
    assert role["metadata"]["namespace"] == "kubetune-system"
    assert allows(role["rules"], "", "secrets", "patch", name="kt-kubetune-api-users")
    assert not allows(role["rules"], "", "secrets", "get", name="kt-kubetune-auth")
    assert allows(role["rules"], "", "configmaps", "update", name="kt-kubetune-api-ids")
    assert not allows(role["rules"], "", "configmaps", "update", name="another")
    env = {e["name"]: e.get("value") for e in
           one(objects, "Deployment", "kt-kubetune-api")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBETUNE_API_USERS_SECRET"] == "kt-kubetune-api-users"
    assert env["KUBETUNE_API_IDS_CONFIG_MAP"] == "kt-kubetune-api-ids"


def test_with_s3_credentials_the_operator_reads_only_that_secret_and_creates_copies(render: Render) -> None:
    objects = render({"storage.type": "s3", "storage.s3.bucket": "b", "storage.s3.existingSecret": "s3-keys"})
    cluster = one(objects, "ClusterRole", "kt-kubetune-operator")["rules"]
    assert allows(cluster, "", "secrets", "create")
    assert not any(allows(cluster, "", "secrets", verb) for verb in ("get", "list", "watch"))
    own = one(objects, "Role", "kt-kubetune-operator")["rules"]
    assert allows(own, "", "secrets", "get", "s3-keys")
    assert not allows(own, "", "secrets", "get", "another")


def test_operator_binds_only_the_project_admin_role_for_a_projects_owner(render: Render) -> None:
    rules = one(render(), "ClusterRole", "kt-kubetune-operator")["rules"]
    binds = [r for r in rules if "bind" in r["verbs"]]
    assert binds == [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                      "resourceNames": ["kubetune-project-admin"], "verbs": ["bind"]}]
    patched = [r for r in rules if "rolebindings" in r["resources"] and "patch" in r["verbs"]]
    assert [r.get("resourceNames") for r in patched] == [["kubetune-admin"]]

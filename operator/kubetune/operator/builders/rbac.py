"""Least privilege for a training pod: its own ServiceAccount, a Role limited to its own Training."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.base import GROUP
from kubetune.crd.kinds import TRAINING
from kubetune.operator.owner import Owner, child_metadata


def _meta(owner: Owner) -> dict[str, Any]:
    return child_metadata(
        owner,
        lbl.training_service_account_name(owner.name),
        {lbl.TRAINING: owner.name, lbl.COMPONENT: "trainer"},
    )


def build_service_account(owner: Owner) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(owner)}


def build_role(owner: Owner) -> dict[str, Any]:
    """get/patch on this Training's status, get on this Training, and posting Events.

    Events are how the trainer tells `kubectl describe` about milestones; `create` cannot be
    limited by name, so it is the one namespace-wide verb, and it reads nothing.
    """
    only_this = [owner.name]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(owner),
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": [f"{TRAINING.plural}/status"],
                "resourceNames": only_this,
                "verbs": ["get", "patch"],
            },
            {
                "apiGroups": [GROUP],
                "resources": [TRAINING.plural],
                "resourceNames": only_this,
                "verbs": ["get"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        ],
    }


def build_role_binding(owner: Owner) -> dict[str, Any]:
    name = lbl.training_service_account_name(owner.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(owner),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": owner.namespace}],
    }

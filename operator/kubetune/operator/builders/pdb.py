"""A PodDisruptionBudget keeping one server up during node drains, when there is more than one."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.operator.builders.deployment import server_labels
from kubetune.operator.owner import Owner, child_metadata


def build_pdb(owner: Owner, replicas: int) -> dict[str, Any] | None:
    """None when replicas <= 1: a budget then would block every drain."""
    if replicas <= 1:
        return None
    selector = server_labels(owner.name)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": child_metadata(owner, lbl.server_deployment_name(owner.name), selector),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
    }

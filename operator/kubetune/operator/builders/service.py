"""The Service in front of an InferenceService's pods: port 80 to the server's port."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.operator.builders.deployment import server_labels
from kubetune.operator.owner import Owner, child_metadata
from kubetune.operator.settings import Settings


def build_service(owner: Owner, settings: Settings) -> dict[str, Any]:
    selector = server_labels(owner.name)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, lbl.server_service_name(owner.name), selector),
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": settings.serve_port, "protocol": "TCP"}],
        },
    }


def service_url(name: str, namespace: str, settings: Settings) -> str:
    """The in-cluster DNS url status.url reports."""
    return f"http://{lbl.server_service_name(name)}.{namespace}.svc.{settings.cluster_domain}"

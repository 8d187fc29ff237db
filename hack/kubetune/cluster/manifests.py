"""What the cluster's add-ons (CoreDNS, metrics-server, KEDA) share in their manifests: a Secret's data, a
role binding for a service account, and the Deployment of one hardened system container."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
SYSTEM_USER = 65532  # the user BinaryImage images run as


def b64(path: Path) -> str:
    """A file as a Secret's (or an APIService caBundle's) base64 value."""
    return base64.b64encode(path.read_bytes()).decode()


def binding(kind: str, name: str, role_kind: str, role: str, sa_namespace: str, sa: str,
            namespace: str | None = None) -> Manifest:
    """A ClusterRoleBinding (or a RoleBinding in ``namespace``) of ``role`` to one service account."""
    meta: Manifest = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_namespace}]}


def system_deployment(name: str, namespace: str, labels: dict[str, str], service_account: str,
                      container: Manifest, volumes: list[Manifest], **pod: Any) -> Manifest:
    """One replica of one container from an image already on the node, as a non-root user with a read-only
    root and no capabilities. ``pod``: more pod spec fields (e.g. dnsPolicy)."""
    hardened = {**container, "imagePullPolicy": "Never",
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": service_account,
                **pod,
                "securityContext": {"runAsNonRoot": True, "runAsUser": SYSTEM_USER, "runAsGroup": SYSTEM_USER},
                "containers": [hardened],
                "volumes": volumes,
            },
        }},
    }

"""Object-store credentials for runtime pods: a per-owner copy of the platform's Secret, and the env to use it.

A pod can only reference Secrets in its own namespace, and the platform's credentials live in the
operator's. Each Training or InferenceService therefore gets a copy owned by it (collected with it), so
the operator needs no read access to user namespaces' Secrets and no pod reads the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.crd import labels as lbl
from kubetune.operator.owner import Owner, child_metadata
from kubetune.operator.settings import Settings

CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class MissingCredentialsError(ValueError):
    """The configured Secret is absent or lacks a key."""


def build_storage_secret(owner: Owner, source: Mapping[str, Any], component: str) -> dict[str, Any]:
    """The copy: only the credential keys, still base64 as the API returned them."""
    data = source.get("data") or {}
    missing = [key for key in CREDENTIAL_KEYS if key not in data]
    if missing:
        name = source.get("metadata", {}).get("name")
        raise MissingCredentialsError(f"object-store Secret {name!r} has no {', '.join(missing)}")
    meta = child_metadata(owner, lbl.storage_secret_name(owner.name), {lbl.COMPONENT: component})
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": {key: data[key] for key in CREDENTIAL_KEYS}}


def storage_env(owner: Owner, settings: Settings) -> list[dict[str, Any]]:
    """AWS_* variables, which botocore (under s3fs) reads; nothing when no object store is configured."""
    if not settings.object_store_secret:
        return []
    secret = lbl.storage_secret_name(owner.name)
    env: list[dict[str, Any]] = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} for key in CREDENTIAL_KEYS
    ]
    if settings.object_store_endpoint:
        env.append({"name": "AWS_ENDPOINT_URL", "value": settings.object_store_endpoint})
    if settings.object_store_region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": settings.object_store_region})
    return env


# ---- the artifact claim in project namespaces
#
# Pods mount claims of their own namespace only, and the artifact claim lives in the operator's. Every
# namespace that runs a Training or InferenceService gets a claim of the same name, bound to a
# PersistentVolume that is a copy of the platform claim's volume (same NFS export, CSI volume handle or
# path): the same files, seen from another namespace. The copy never deletes the data (Retain).


def namespace_volume_name(source_pv: str, namespace: str) -> str:
    """Deterministic and within the 253-character limit of a PersistentVolume's name."""
    return f"{source_pv}-{namespace}"[:253]


def build_namespace_volume(source_pv: Mapping[str, Any], namespace: str, claim: str) -> dict[str, Any]:
    """A PersistentVolume with the platform volume's source, reserved for `namespace`/`claim`."""
    spec = source_pv.get("spec") or {}
    name = namespace_volume_name(source_pv["metadata"]["name"], namespace)
    copied = {k: v for k, v in spec.items() if k not in ("claimRef", "persistentVolumeReclaimPolicy")}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {lbl.MANAGED_BY: lbl.MANAGER, lbl.COMPONENT: "artifacts"}},
        "spec": {**copied, "persistentVolumeReclaimPolicy": "Retain",
                 "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace,
                              "name": claim}},
    }


def build_namespace_claim(source_claim: Mapping[str, Any], namespace: str, volume: str) -> dict[str, Any]:
    """The claim runtime pods mount, pre-bound to its volume (no provisioner involved)."""
    spec = source_claim.get("spec") or {}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": source_claim["metadata"]["name"], "namespace": namespace,
                     "labels": {lbl.MANAGED_BY: lbl.MANAGER, lbl.COMPONENT: "artifacts"}},
        "spec": {
            "accessModes": spec.get("accessModes") or ["ReadWriteMany"],
            "resources": spec.get("resources") or {"requests": {"storage": "1Gi"}},
            "storageClassName": spec.get("storageClassName") or "",
            "volumeName": volume,
        },
    }

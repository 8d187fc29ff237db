"""The per-owner copy of the object-store credentials (see builders/storage.py)."""

from __future__ import annotations

from kubetune.operator.builders.storage import (
    MissingCredentialsError,
    build_namespace_claim,
    build_namespace_volume,
    build_storage_secret,
)
from kubetune.operator.owner import Owner
from kubetune.operator.runtime import Runtime


def ensure_storage_secret(rt: Runtime, owner: Owner, component: str) -> str | None:
    """Copy the platform's credentials next to `owner` (409 = done); returns why it could not, or None."""
    name = rt.settings.object_store_secret
    if not name:
        return None
    source = rt.kube.get("v1", "Secret", rt.settings.pod_namespace, name)
    if source is None:
        return f"the object-store Secret {rt.settings.pod_namespace}/{name} does not exist"
    try:
        rt.kube.create(build_storage_secret(owner, source, component))
    except MissingCredentialsError as exc:
        return str(exc)
    return None


def ensure_artifact_claim(rt: Runtime, namespace: str) -> str | None:
    """Give `namespace` the artifact claim (see builders/storage.py); returns why it could not, or None."""
    claim, home = rt.settings.artifact_pvc, rt.settings.pod_namespace
    if not claim or namespace == home or namespace in rt.artifact_namespaces:
        return None
    if rt.kube.get("v1", "PersistentVolumeClaim", namespace, claim) is None:
        source_claim = rt.kube.get("v1", "PersistentVolumeClaim", home, claim)
        volume_name = ((source_claim or {}).get("spec") or {}).get("volumeName")
        if not volume_name:
            return f"the artifact claim {home}/{claim} does not exist or is not bound yet"
        source_volume = rt.kube.get("v1", "PersistentVolume", None, volume_name)
        if source_volume is None:
            return f"the artifact volume {volume_name} does not exist"
        volume = build_namespace_volume(source_volume, namespace, claim)
        rt.kube.create(volume)
        rt.kube.create(build_namespace_claim(source_claim, namespace, volume["metadata"]["name"]))  # type: ignore[arg-type]
    rt.artifact_namespaces.add(namespace)  # a cache of what exists: a restart only re-checks with one GET
    return None

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
    if not claim or namespace == home:
        return None
    # One GET per new Job or Deployment; no memory of it, so a namespace deleted and created again
    # gets its claim back.
    if rt.kube.get("v1", "PersistentVolumeClaim", namespace, claim) is None:
        source_claim = rt.kube.get("v1", "PersistentVolumeClaim", home, claim)
        volume_name = ((source_claim or {}).get("spec") or {}).get("volumeName")
        if not volume_name:
            return f"the artifact claim {home}/{claim} does not exist or is not bound yet"
        source_volume = rt.kube.get("v1", "PersistentVolume", None, volume_name)
        if source_volume is None:
            return f"the artifact volume {volume_name} does not exist"
        volume = build_namespace_volume(source_volume, namespace, claim)
        if rt.kube.create(volume) is None:
            reuse_released_volume(rt, volume["metadata"]["name"])
        rt.kube.create(build_namespace_claim(source_claim, namespace, volume["metadata"]["name"]))  # type: ignore[arg-type]
    return None


def reuse_released_volume(rt: Runtime, name: str) -> None:
    """The namespace was deleted and created again: its old copy is Released, still reserved for the old
    claim's uid. Forgetting that uid makes it Available to the new claim of the same name (data kept)."""
    existing = rt.kube.get("v1", "PersistentVolume", None, name)
    if existing is not None and (existing.get("status") or {}).get("phase") == "Released":
        forget_old_claim = {"spec": {"claimRef": {"uid": None, "resourceVersion": None}}}
        rt.kube.patch("v1", "PersistentVolume", None, name, forget_old_claim)

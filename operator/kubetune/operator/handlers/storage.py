"""The per-owner copy of the object-store credentials (see builders/storage.py)."""

from __future__ import annotations

from kubetune.operator.builders.storage import MissingCredentialsError, build_storage_secret
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

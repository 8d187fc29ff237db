"""Artifacts outside Kubernetes: what a Training or a project leaves in the store, and its removal.

Finalizers are the one honest place for this cleanup (the garbage collector only knows objects):
``kubetune.io/artifacts`` on a Training whose ``artifactPolicy`` is Delete, and
``kubetune.io/project-artifacts`` on every project Namespace, so that deleting a project removes its
prefix of the store and a project re-created under the same name starts empty.

The planning is pure; `remove_tree` is the only function that touches the filesystem, and it never
follows a symlink out of the project's prefix.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kubetune.crd.references import InvalidReference, StoreLayout, check_segment, confine, project_root, resolve

TRAINING_FINALIZER = "kubetune.io/artifacts"
PROJECT_FINALIZER = "kubetune.io/project-artifacts"
KUBERNETES_FINALIZER = "kubernetes"  # the namespace controller's: content still being deleted


def finalizer_patch(meta: Mapping[str, Any], finalizer: str, present: bool) -> dict[str, Any] | None:
    """A merge patch adding or removing ``finalizer``, pinned to the resourceVersion (a 409 instead of
    overwriting a finalizer another controller set meanwhile); None when nothing changes."""
    current: Sequence[str] = meta.get("finalizers") or []
    if (finalizer in current) == present:
        return None
    wanted = [*current, finalizer] if present else [f for f in current if f != finalizer]
    return {"metadata": {"finalizers": wanted, "resourceVersion": meta.get("resourceVersion")}}


def training_wants_finalizer(body: Mapping[str, Any]) -> bool:
    return (body.get("spec") or {}).get("artifactPolicy") == "Delete"


def training_artifacts(namespace: str, name: str, output: str | None, layout: StoreLayout,
                       default_output: str) -> Path | None:
    """The local directory holding a Training's artifacts, when it is in its project's prefix of the
    file store (an s3:// or foreign-claim output is not the operator's to delete)."""
    try:
        ref = resolve(output or default_output, namespace, layout, "output")
    except InvalidReference:
        return None  # never validated, so never written
    if not ref.in_store or ref.local is None:
        return None
    return Path(ref.local)


def namespace_ready_for_cleanup(body: Mapping[str, Any]) -> bool:
    """Terminating, and the namespace controller has removed every object in it (no pod still writes)."""
    meta = body.get("metadata") or {}
    spec_finalizers = (body.get("spec") or {}).get("finalizers") or []
    return bool(meta.get("deletionTimestamp")) and KUBERNETES_FINALIZER not in spec_finalizers


def project_prefix(layout: StoreLayout, namespace: str) -> Path | None:
    check_segment(namespace, "namespace")
    return project_root(layout, namespace)


def remove_tree(path: Path, root: Path) -> bool:
    """Remove ``path`` (inside ``root``, symlinks resolved); False when there was nothing.

    rmtree removes symlinks themselves, never what they point to.
    """
    if not path.exists() and not path.is_symlink():
        return False
    real_root = Path(root).resolve()
    if path.is_symlink():  # the entry itself is a link: remove the link only
        confine(path.parent, real_root)
        path.unlink()
        return True
    if confine(path, real_root) == real_root:
        raise InvalidReference("path", str(path), "is the store's root, never removed whole")
    shutil.rmtree(path)
    return True

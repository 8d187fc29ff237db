"""Owner references and child metadata, as pure functions.

kopf.adopt() does the same in place and needs a handler context; builders
stay pure and testable by taking the owner as a small value instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetune.crd import labels as lbl


@dataclass(frozen=True)
class Owner:
    """The parts of a parent object that its children point at."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Owner:
        """Build from any object body (a dict or a kopf Body)."""
        meta = body.get("metadata", {})
        return cls(
            api_version=body["apiVersion"],
            kind=body["kind"],
            name=meta["name"],
            uid=meta.get("uid", ""),
            namespace=meta.get("namespace"),
            labels=dict(meta.get("labels") or {}),
        )

    def reference(self) -> dict[str, Any]:
        """A controller owner reference: the garbage collector deletes the child with the parent."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def object_ref(self) -> dict[str, Any]:
        """An involvedObject / regarding reference for Events."""
        ref = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "uid": self.uid}
        if self.namespace:
            ref["namespace"] = self.namespace
        return ref


# Parent labels that children inherit: grouping labels only, never HPO or component labels.
INHERITED_LABELS = (lbl.PROJECT, lbl.TASK)


def child_metadata(owner: Owner, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """Metadata of a child: deterministic name, parent's namespace, owner reference, labels."""
    merged = {k: v for k, v in owner.labels.items() if k in INHERITED_LABELS}
    merged.update(labels)
    merged[lbl.MANAGED_BY] = lbl.MANAGER
    meta: dict[str, Any] = {"name": name, "labels": merged, "ownerReferences": [owner.reference()]}
    if owner.namespace:
        meta["namespace"] = owner.namespace
    return meta

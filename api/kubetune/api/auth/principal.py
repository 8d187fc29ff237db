"""The caller, and what it may see: admins everything, others their projects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kubetune.crd import labels as lbl


@dataclass(frozen=True)
class Principal:
    username: str
    kind: Literal["user", "serviceaccount", "apikey"] = "user"
    is_admin: bool = False
    user_id: int | None = None
    namespaces: frozenset[str] = field(default_factory=frozenset)  # explicit grants (SA, API keys)

    def can_access(self, namespace_obj: dict[str, Any]) -> bool:
        """May this caller see and change the project held by this Namespace object?"""
        if self.is_admin:
            return True
        meta = namespace_obj.get("metadata") or {}
        if meta.get("name") in self.namespaces:
            return True
        return self.kind == "user" and (meta.get("annotations") or {}).get(lbl.OWNER) == self.username

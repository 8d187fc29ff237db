"""Label and field selector matching, for the fake cluster and the cache."""

from __future__ import annotations

from typing import Any


def matches_labels(obj: dict[str, Any], selector: str | None) -> bool:
    """Equality (`k=v`, `k==v`), inequality (`k!=v`), existence (`k`) and absence (`!k`) terms."""
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def dotted(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def matches_fields(obj: dict[str, Any], selector: str | None) -> bool:
    """Equality and inequality terms on dotted paths, e.g. `involvedObject.kind=Training`,
    `spec.nodeName!=` (a missing field reads as the empty string, as the API server's does)."""
    if not selector:
        return True
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, _, value = term.partition("!=")
            if str(dotted(obj, key.strip()) or "") == value.strip():
                return False
            continue
        key, _, value = term.replace("==", "=").partition("=")
        if str(dotted(obj, key.strip()) or "") != value.strip():
            return False
    return True

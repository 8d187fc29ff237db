"""Standard conditions (metav1.Condition shape) as plain dicts, with observedGeneration.

lastTransitionTime changes only when the status flips, so a condition tells
when the state began, not when the operator last looked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]


def now_iso() -> str:
    """The current time in the RFC 3339 form Kubernetes uses."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def make(
    type_: str,
    status: Status | bool,
    reason: str,
    message: str = "",
    generation: int | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """One condition."""
    value: Status = ("True" if status else "False") if isinstance(status, bool) else status
    cond: dict[str, Any] = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message[:32768],
        "lastTransitionTime": at or now_iso(),
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def find(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    """The condition of that type, if present."""
    for cond in unpack(conditions):
        if cond.get("type") == type_:
            return cond
    return None


def is_true(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> bool:
    cond = find(conditions, type_)
    return cond is not None and cond.get("status") == "True"


def merge(
    existing: Iterable[Mapping[str, Any]] | None, updates: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Existing conditions with updates applied; keeps lastTransitionTime when status is unchanged.

    Conditions are a list, so a merge patch replaces them whole: the result is the full list.
    """
    result = unpack(existing)
    for update in updates:
        new = dict(update)
        for i, old in enumerate(result):
            if old.get("type") == new["type"]:
                if old.get("status") == new["status"] and old.get("lastTransitionTime"):
                    new["lastTransitionTime"] = old["lastTransitionTime"]
                result[i] = new
                break
        else:
            result.append(new)
    return result


def same(a: Iterable[Mapping[str, Any]] | None, b: Iterable[Mapping[str, Any]] | None) -> bool:
    """Equal apart from lastTransitionTime (what decides whether a patch is needed)."""

    def key(conds: Iterable[Mapping[str, Any]] | None) -> list[tuple[Any, ...]]:
        return sorted(
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message"), c.get("observedGeneration"))
            for c in unpack(conds)
        )

    return key(a) == key(b)


Packed = tuple[tuple[Any, ...], ...]
_FIELDS = ("type", "status", "reason", "message", "observedGeneration", "lastTransitionTime")


def pack(conditions: Packed | Iterable[Mapping[str, Any]] | None) -> Packed:
    """Conditions as tuples: what the operator keeps in memory for thousands of objects.

    Packed ones pass through: a status taken from the writer's cache already holds them.
    """
    return tuple(c if isinstance(c, tuple) else tuple(c.get(f) for f in _FIELDS) for c in conditions or ())


def unpack(packed: Packed | Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Back to the wire shape (dicts pass through)."""
    out: list[dict[str, Any]] = []
    for item in packed or ():
        if isinstance(item, tuple):
            out.append({f: v for f, v in zip(_FIELDS, item, strict=True) if v is not None})
        else:
            out.append(dict(item))
    return out

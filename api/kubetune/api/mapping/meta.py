"""Small accessors on object metadata shared by every mapping."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from kubetune.crd import labels as lbl

Obj = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace", ""))


def uid(obj: Obj) -> str:
    return str(meta(obj).get("uid", ""))


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts characters like '²' that int() refuses."""
    return text.isascii() and text.isdigit()


def numeric_id(obj: Obj) -> int:
    raw = annotations_of(obj).get(lbl.NUMERIC_ID, "")
    return int(raw) if is_number(raw) else 0


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return _parse_time(str(value))


@functools.lru_cache(maxsize=65536)  # list sorts parse the same timestamps on every request
def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def created(obj: Obj) -> datetime:
    return parse_time(meta(obj).get("creationTimestamp")) or EPOCH


def status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def updated(obj: Obj) -> datetime:
    """Latest of creation, condition transitions and completion: what 'updated_at' means here."""
    times = [created(obj)]
    st = status(obj)
    for cond in st.get("conditions") or []:
        t = parse_time(cond.get("lastTransitionTime"))
        if t:
            times.append(t)
    for key in ("startTime", "completionTime"):
        t = parse_time(st.get(key))
        if t:
            times.append(t)
    return max(times)


def slug(text: str, limit: int = 40) -> str:
    """A DNS-1123 label fragment from free text ('' when nothing usable is left)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:limit].strip("-")


def object_name(text: str, suffix: str, limit: int = 63) -> str:
    """slug(text)-suffix, within the DNS label limit."""
    base = slug(text, limit - len(suffix) - 1) or "x"
    return f"{base}-{suffix}"

"""Seed 000's page/size/sort/filter/search, applied to raw objects so only one page is mapped.

- sort: `field`, `-field`, `field,asc` or `field,desc`; several with `;` (e.g. `status;-created_at`).
- filter: `key:value` pairs separated by `,` (e.g. `status:running,trainer_id:lora`); values compare
  case-insensitively; `|` separates alternatives (`status:running|queued`).
- search: case-insensitive substring of name and description.
Unknown sort or filter keys are a 422 naming the allowed ones.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubetune.api.core.errors import ApiError

Getter = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    page: int
    size: int
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.size) if self.size else 0


def parse_sort(sort: str | None, allowed: Sequence[str]) -> list[tuple[str, bool]]:
    if not sort:
        return []
    keys: list[tuple[str, bool]] = []
    for term in (t.strip() for t in sort.split(";") if t.strip()):
        field, _, direction = term.partition(",")
        field, direction = field.strip(), direction.strip().lower()
        descending = field.startswith("-")
        field = field.lstrip("-+")
        if direction not in ("", "asc", "desc"):
            raise ApiError(422, f"sort direction must be asc or desc, not {direction!r}")
        if field not in allowed:
            raise ApiError(422, f"cannot sort by {field!r}; allowed: {', '.join(allowed)}")
        keys.append((field, descending or direction == "desc"))
    return keys


def parse_filter(text: str | None, allowed: Sequence[str]) -> dict[str, set[str]]:
    if not text:
        return {}
    filters: dict[str, set[str]] = {}
    for term in (t.strip() for t in text.split(",") if t.strip()):
        key, sep, value = term.partition(":")
        if not sep:
            key, sep, value = term.partition("=")
        key = key.strip()
        if not sep or not value.strip():
            raise ApiError(422, f"filter terms look like key:value, got {term!r}")
        if key not in allowed:
            raise ApiError(422, f"cannot filter by {key!r}; allowed: {', '.join(allowed)}")
        filters.setdefault(key, set()).update(v.strip() for v in value.split("|"))
    return filters


def _sort_key(value: Any) -> tuple[int, Any]:
    # None sorts last in ascending order; mixed types never compare.
    if value is None:
        return (1, "")
    if isinstance(value, (int, float)):
        return (0, value)
    return (0, str(value).lower()) if isinstance(value, str) else (0, value)


def apply(objs: list[dict[str, Any]], getters: dict[str, Getter], page: int, size: int,
          sort: list[tuple[str, bool]], filters: dict[str, set[str]], search: str | None,
          search_fields: Sequence[str] = ("name", "description"), default_sort: str = "created_at") -> Page:
    items = objs
    for key, values in filters.items():
        get, wanted = getters[key], {v.lower() for v in values}
        items = [o for o in items if str(get(o) or "").lower() in wanted]
    if search:
        needle = search.lower()
        items = [o for o in items if any(needle in str(getters[f](o) or "").lower() for f in search_fields)]
    # Stable sorts applied last-key-first give a multi-key sort; the default is newest first.
    order = sort or [(default_sort, True)]
    start, total = (page - 1) * size, len(items)
    ident = getters["id"]
    if len(order) == 1:
        # One key (the usual case): decorate once, then take only what the page needs.
        field, descending = order[0]
        get = getters[field]
        decorated = [(_sort_key(get(o)), str(ident(o)), o) for o in items]
        pick = heapq.nlargest if descending else heapq.nsmallest
        needed = start + size
        if needed < total // 4:
            head = pick(needed, decorated, key=_decorated_key)
        else:
            head = sorted(decorated, key=_decorated_key, reverse=descending)
        return Page(items=[t[2] for t in head[start:needed]], page=page, size=size, total=total)
    # Several keys: stable sorts applied last-key-first.
    items = sorted(items, key=lambda o: str(ident(o)))
    for field, descending in reversed(order):
        get = getters[field]
        items.sort(key=lambda o, g=get: _sort_key(g(o)), reverse=descending)  # type: ignore[misc]
    return Page(items=items[start:start + size], page=page, size=size, total=total)


def _decorated_key(item: tuple[tuple[int, Any], str, dict[str, Any]]) -> tuple[tuple[int, Any], str]:
    return item[0], item[1]

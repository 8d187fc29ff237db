"""One resource type held in memory with the indexes the routes look things up by."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from kubetune.crd import labels as lbl

Obj = dict[str, Any]
Key = tuple[str, str]  # namespace ('' when cluster-scoped), name


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def numeric_id(obj: Obj) -> int | None:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(lbl.NUMERIC_ID)
    return int(raw) if isinstance(raw, str) and is_number(raw) else None


def _rv(obj: Obj) -> int:
    raw = str((obj.get("metadata") or {}).get("resourceVersion") or "0")
    return int(raw) if is_number(raw) else 0


class Store:
    """Objects by (namespace, name), indexed by uid, numeric id, project, task and phase.

    Objects are treated as immutable once stored: writers replace, never mutate, so readers
    may hand them out without copying.
    """

    def __init__(self, extra_index: Callable[[Obj], str | None] | None = None) -> None:
        self._extra_fn = extra_index
        self._extra: dict[str, set[Key]] = defaultdict(set)
        self._objects: dict[Key, Obj] = {}
        self._uid: dict[str, Key] = {}
        self._id: dict[int, Key] = {}
        self._project: dict[str, set[Key]] = defaultdict(set)
        self._task: dict[str, set[Key]] = defaultdict(set)
        self._phase: dict[str, set[Key]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._objects)

    # -- writes ----------------------------------------------------------------
    def upsert(self, obj: Obj) -> Obj | None:
        """Store obj; returns the previous version. Older versions never overwrite newer ones."""
        key = key_of(obj)
        old = self._objects.get(key)
        if old is not None and _rv(old) > _rv(obj) and old["metadata"].get("uid") == obj["metadata"].get("uid"):
            return old
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        self._index(key, obj)
        return old

    def remove(self, obj: Obj) -> Obj | None:
        key = key_of(obj)
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace_all(self, items: Iterable[Obj]) -> tuple[list[Obj], list[Obj]]:
        """Swap in a fresh listing; returns (changed-or-added, removed) against what was held."""
        fresh = {key_of(o): o for o in items}
        removed = [o for k, o in self._objects.items() if k not in fresh]
        changed = [o for k, o in fresh.items() if _rv(self._objects.get(k) or {}) != _rv(o)
                   or k not in self._objects]
        self.__init__(self._extra_fn)  # type: ignore[misc]  # rebuild indexes from scratch
        for obj in fresh.values():
            self.upsert(obj)
        return changed, removed

    # -- reads -------------------------------------------------------------------
    def all(self) -> list[Obj]:
        return list(self._objects.values())

    def get(self, name: str, namespace: str = "") -> Obj | None:
        return self._objects.get((namespace, name))

    def by_uid(self, uid: str) -> Obj | None:
        key = self._uid.get(uid)
        return self._objects.get(key) if key else None

    def by_id(self, ident: int) -> Obj | None:
        key = self._id.get(ident)
        return self._objects.get(key) if key else None

    def in_project(self, namespace: str) -> list[Obj]:
        return [self._objects[k] for k in self._project.get(namespace, ())]

    def in_task(self, task: str) -> list[Obj]:
        return [self._objects[k] for k in self._task.get(task, ())]

    def in_phase(self, phase: str) -> list[Obj]:
        return [self._objects[k] for k in self._phase.get(phase, ())]

    def by_extra(self, value: str) -> list[Obj]:
        return [self._objects[k] for k in self._extra.get(value, ())]

    # -- indexes -------------------------------------------------------------------
    def _index(self, key: Key, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("uid"):
            self._uid[meta["uid"]] = key
        ident = numeric_id(obj)
        if ident is not None:
            self._id[ident] = key
        if key[0]:
            self._project[key[0]].add(key)
        task = (meta.get("labels") or {}).get(lbl.TASK)
        if task:
            self._task[task].add(key)
        self._phase[(obj.get("status") or {}).get("phase") or ""].add(key)  # "" = not reconciled yet
        extra = self._extra_fn(obj) if self._extra_fn else None
        if extra:
            self._extra[extra].add(key)

    def _unindex(self, key: Key, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if self._uid.get(meta.get("uid", "")) == key:
            del self._uid[meta["uid"]]
        ident = numeric_id(obj)
        if ident is not None and self._id.get(ident) == key:
            del self._id[ident]
        for index, value in ((self._project, key[0]), (self._task, (meta.get("labels") or {}).get(lbl.TASK)),
                             (self._phase, (obj.get("status") or {}).get("phase") or ""),
                             (self._extra, self._extra_fn(obj) if self._extra_fn else None)):
            if value is not None and value in index and (value or index is self._phase):
                index[value].discard(key)
                if not index[value]:
                    del index[value]

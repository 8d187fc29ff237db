"""An in-memory Kubernetes API for unit tests: resource versions, watches, 410 Gone, merge patches.

It validates kubetune's own kinds with the same pydantic models the CRDs are generated
from, so a bad spec fails with 422 as the real API server's schema check would.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiException
from pydantic import ValidationError

from kubetune.api.cluster import fake_rbac
from kubetune.api.cluster.base import (
    Identity,
    ListResult,
    LogOptions,
    Obj,
    ResourceAttributes,
    TokenReviewResult,
    WatchEvent,
    api_exception,
)
from kubetune.api.cluster.merge import merge_patch
from kubetune.api.cluster.resources import NAMESPACES, PODS, ROLE_BINDINGS, Res
from kubetune.api.cluster.selectors import matches_fields, matches_labels
from kubetune.crd.kinds import ALL_KINDS

_SPEC_MODELS = {k.plural: k.spec for k in ALL_KINDS}
Key = tuple[str, str, str]  # plural, namespace, name


def _error(status: int, reason: str, message: str) -> ApiException:
    return api_exception(status, reason, json.dumps({"message": message, "code": status}))


class FakeCluster:
    """Implements `Cluster` in memory. Tests reach into `tokens`, `compact()` and `drop_watches()`."""

    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        # (resourceVersion, plural, event, the object before a MODIFIED): selector-filtered watches need both
        self._log: list[tuple[int, str, WatchEvent, Obj | None]] = []
        self._rv = itertools.count(1)
        self._last_rv = 0
        self._compacted = 0
        self._changed = asyncio.Event()
        self._epoch = 0
        self.tokens: dict[str, TokenReviewResult] = {}
        self.calls: list[tuple[str, str]] = []  # (verb, plural): lets tests prove reads hit the cache
        self.impersonated: list[tuple[str, str, str]] = []  # (verb, plural, user) of calls made through as_user
        # Pod logs tests serve: (namespace, pod, previous) -> text; log_requests records each LogOptions asked for
        self.pod_logs: dict[tuple[str, str, bool], str] = {}
        self.log_requests: list[tuple[str, str, LogOptions]] = []
        # Plays Kubernetes' authorizer for as_user views and access_review (None allows everything):
        # by default RBAC over the project roles and the RoleBindings held here.
        self.authorize: Callable[[Identity, ResourceAttributes], bool] | None = (
            lambda identity, attrs: fake_rbac.allows(self.objects(ROLE_BINDINGS), identity, attrs))

    # -- helpers for tests -------------------------------------------------
    def compact(self) -> None:
        """Forget history: watches from older versions now get 410 Gone."""
        self._compacted = self._last_rv
        self._log.clear()

    def drop_watches(self) -> None:
        """End every open watch, as an API server restart would."""
        self._epoch += 1
        self._notify()

    def objects(self, res: Res) -> list[Obj]:
        return [copy.deepcopy(o) for (p, _, _), o in self._objects.items() if p == res.plural]

    # -- Cluster -----------------------------------------------------------
    async def create(self, res: Res, body: Obj, namespace: str | None = None) -> Obj:
        self.calls.append(("create", res.plural))
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        ns = (namespace or meta.get("namespace") or "") if res.namespaced else ""
        if res.namespaced and not ns:
            raise _error(400, "BadRequest", "namespace required")
        if res.namespaced and (NAMESPACES.plural, "", ns) not in self._objects:
            raise _error(404, "NotFound", f'namespaces "{ns}" not found')
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
        if not name:
            raise _error(422, "Invalid", "metadata.name: Required value")
        key = (res.plural, ns, name)
        if key in self._objects:
            raise _error(409, "AlreadyExists", f'{res.plural} "{name}" already exists')
        self._validate(res, obj)
        meta.update(name=name, uid=str(uuid.uuid4()), generation=1,
                    creationTimestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if ns:
            meta["namespace"] = ns
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        if res.plural in _SPEC_MODELS:
            obj.pop("status", None)  # status is a subresource: ignored on create
        stored = self._store(res, key, obj, "ADDED")
        binding = fake_rbac.operator_binding(obj) if res == NAMESPACES else None
        if binding is not None:  # the operator makes a new project's owner its admin
            await self.create(ROLE_BINDINGS, binding, name)
        return stored

    async def get(self, res: Res, name: str, namespace: str | None = None) -> Obj:
        self.calls.append(("get", res.plural))
        return copy.deepcopy(self._find(res, name, namespace))

    async def replace(self, res: Res, name: str, body: Obj, namespace: str | None = None) -> Obj:
        self.calls.append(("replace", res.plural))
        current = self._find(res, name, namespace)
        sent_rv = body.get("metadata", {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise _error(409, "Conflict", "the object has been modified; please apply your changes "
                                          "to the latest version and try again")
        obj = copy.deepcopy(body)
        self._validate(res, obj)
        meta = obj.setdefault("metadata", {})
        for keep in ("uid", "creationTimestamp", "namespace", "name"):
            if keep in current["metadata"]:
                meta[keep] = current["metadata"][keep]
        if res.plural in _SPEC_MODELS and "status" in current:
            obj["status"] = current["status"]
        meta["generation"] = current["metadata"].get("generation", 1) + int(
            obj.get("spec") != current.get("spec"))
        return self._store(res, self._key(res, name, namespace), obj, "MODIFIED")

    async def patch(self, res: Res, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None) -> Obj:
        self.calls.append(("patch", res.plural))
        current = self._find(res, name, namespace)
        sent_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise _error(409, "Conflict", "the object has been modified")
        has_status_sub = res.plural in _SPEC_MODELS
        if subresource == "status":
            patch = {"status": patch.get("status")} if "status" in patch else {}
        elif has_status_sub:
            patch = {k: v for k, v in patch.items() if k != "status"}
        obj = merge_patch(current, patch)
        self._validate(res, obj)
        meta = obj["metadata"]
        if obj.get("spec") != current.get("spec"):
            meta["generation"] = current["metadata"].get("generation", 1) + 1
        return self._store(res, self._key(res, name, namespace), obj, "MODIFIED")

    async def delete(self, res: Res, name: str, namespace: str | None = None) -> None:
        self.calls.append(("delete", res.plural))
        current = self._find(res, name, namespace)
        key = self._key(res, name, namespace)
        del self._objects[key]
        self._emit(res.plural, "DELETED", current)
        if res == NAMESPACES:  # the garbage collector empties a deleted namespace
            for k in [k for k in self._objects if k[1] == name]:
                obj = self._objects.pop(k)
                self._emit(k[0], "DELETED", obj)

    async def list(self, res: Res, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> ListResult:
        self.calls.append(("list", res.plural))
        items = [copy.deepcopy(o) for (p, ns, _), o in sorted(self._objects.items())
                 if p == res.plural and (not namespace or ns == namespace)
                 and matches_labels(o, label_selector) and matches_fields(o, field_selector)]
        return ListResult(items=items, resource_version=str(self._last_rv))

    async def watch(self, res: Res, resource_version: str, namespace: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None
                    ) -> AsyncIterator[WatchEvent]:
        self.calls.append(("watch", res.plural))
        start = int(resource_version or 0)
        if start < self._compacted:
            raise _error(410, "Expired", f"too old resource version: {start} ({self._compacted})")
        epoch = self._epoch
        seen = start
        def selected(obj: Obj | None) -> bool:
            return obj is not None and (not namespace or obj["metadata"].get("namespace") == namespace) \
                and matches_labels(obj, label_selector) and matches_fields(obj, field_selector)

        while True:
            for rv, plural, event, previous in list(self._log):
                if rv <= seen:
                    continue
                seen = rv
                if plural != res.plural:
                    continue
                now, before = selected(event.object), selected(previous)
                if now:  # an object entering the selection is ADDED to this watch, as the API server does
                    kind = "ADDED" if event.type == "MODIFIED" and not before else event.type
                    yield WatchEvent(kind, copy.deepcopy(event.object))
                elif before and event.type == "MODIFIED":  # ... and one leaving it is DELETED
                    yield WatchEvent("DELETED", copy.deepcopy(event.object))
            if self._epoch != epoch:
                return
            if seen < self._compacted:
                raise _error(410, "Expired", "too old resource version")
            changed = self._changed
            await changed.wait()

    async def pod_log(self, name: str, namespace: str, options: LogOptions) -> AsyncIterator[bytes]:
        self.log_requests.append((namespace, name, options))
        if (PODS.plural, namespace, name) not in self._objects:
            raise _error(404, "NotFound", f'pods "{name}" not found')
        text = self.pod_logs.get((namespace, name, options.previous))
        if text is None:
            what = "previous terminated container" if options.previous else "container log"
            raise _error(400, "BadRequest", f'{what} in pod "{name}" not found')
        lines = text.splitlines(keepends=True)
        if options.tail_lines is not None:
            lines = lines[-options.tail_lines:] if options.tail_lines else []
        for line in lines:
            yield line.encode()

    async def token_review(self, token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        """As the API server answers: `tokens` maps a token to its review, whose audiences are those the token
        was minted for (empty: the API server's own, a pod's default token); asked for audiences, a token
        authenticates only when it was minted for one of them, and the answer names those."""
        self.calls.append(("create", "tokenreviews"))
        known = self.tokens.get(token, TokenReviewResult(authenticated=False))
        if not audiences:
            return known
        matching = tuple(a for a in audiences if a in known.audiences)
        if not known.authenticated or not matching:
            return TokenReviewResult(authenticated=False)
        return dataclasses.replace(known, audiences=matching)

    async def access_review(self, identity: Identity, attributes: ResourceAttributes) -> bool:
        self.calls.append(("create", "subjectaccessreviews"))
        return self.authorize is None or self.authorize(identity, attributes)

    def as_user(self, identity: Identity) -> FakeUserView:
        return FakeUserView(self, identity)

    # -- internals -----------------------------------------------------------
    def _key(self, res: Res, name: str, namespace: str | None) -> Key:
        return (res.plural, (namespace or "") if res.namespaced else "", name)

    def _find(self, res: Res, name: str, namespace: str | None) -> Obj:
        obj = self._objects.get(self._key(res, name, namespace))
        if obj is None:
            raise _error(404, "NotFound", f'{res.plural} "{name}" not found')
        return obj

    def _validate(self, res: Res, obj: Obj) -> None:
        model = _SPEC_MODELS.get(res.plural)
        if model is None:
            return
        try:
            model.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            raise _error(422, "Invalid", f"{res.kind} is invalid: {exc.errors()[0]['msg']}") from exc

    def _store(self, res: Res, key: Key, obj: Obj, event_type: str) -> Obj:
        previous = copy.deepcopy(self._objects.get(key)) if event_type == "MODIFIED" else None
        self._objects[key] = obj
        self._emit(res.plural, event_type, obj, previous)
        return copy.deepcopy(obj)

    def _emit(self, plural: str, event_type: str, obj: Obj, previous: Obj | None = None) -> None:
        rv = next(self._rv)
        self._last_rv = rv
        obj["metadata"]["resourceVersion"] = str(rv)
        event = WatchEvent(event_type, copy.deepcopy(obj))  # type: ignore[arg-type]
        self._log.append((rv, plural, event, previous))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def make_event(self, **fields: Any) -> Obj:
        """Helper body for a core/v1 Event about an object (tests create these as the operator would)."""
        return {"metadata": {"generateName": "ev-"}, **fields}


class FakeUserView:
    """The fake under impersonation: each call is checked with `FakeCluster.authorize` (403 when denied)."""

    def __init__(self, fake: FakeCluster, identity: Identity) -> None:
        self.fake = fake
        self.identity = identity

    def _check(self, verb: str, res: Res, namespace: str | None, name: str = "", subresource: str = "") -> None:
        self.fake.impersonated.append((verb, res.plural, self.identity.user))
        if res == NAMESPACES:  # as the API server does: a Namespace is in itself, so a RoleBinding there reaches it
            namespace = name or namespace
        attrs = ResourceAttributes(verb=verb, resource=res.plural, group=res.group, namespace=namespace or "",
                                   name=name, subresource=subresource)
        if self.fake.authorize is not None and not self.fake.authorize(self.identity, attrs):
            raise _error(403, "Forbidden", f'{res.plural} is forbidden: User "{self.identity.user}" cannot {verb} '
                                           f'resource "{res.plural}" in namespace "{namespace or ""}"')

    async def create(self, res: Res, body: Obj, namespace: str | None = None) -> Obj:
        ns = namespace or (body.get("metadata") or {}).get("namespace")
        self._check("create", res, ns)
        return await self.fake.create(res, body, namespace)

    async def get(self, res: Res, name: str, namespace: str | None = None) -> Obj:
        self._check("get", res, namespace, name)
        return await self.fake.get(res, name, namespace)

    async def replace(self, res: Res, name: str, body: Obj, namespace: str | None = None) -> Obj:
        self._check("update", res, namespace, name)
        return await self.fake.replace(res, name, body, namespace)

    async def patch(self, res: Res, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None) -> Obj:
        self._check("patch", res, namespace, name, subresource or "")
        return await self.fake.patch(res, name, patch, namespace, subresource)

    async def delete(self, res: Res, name: str, namespace: str | None = None) -> None:
        self._check("delete", res, namespace, name)
        await self.fake.delete(res, name, namespace)

    async def list(self, res: Res, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> ListResult:
        self._check("list", res, namespace)
        return await self.fake.list(res, namespace, label_selector, field_selector)

    async def watch(self, res: Res, resource_version: str, namespace: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None
                    ) -> AsyncIterator[WatchEvent]:
        self._check("watch", res, namespace)
        async for event in self.fake.watch(res, resource_version, namespace, label_selector, field_selector):
            yield event

    async def pod_log(self, name: str, namespace: str, options: LogOptions) -> AsyncIterator[bytes]:
        self._check("get", PODS, namespace, name, "log")
        async for chunk in self.fake.pod_log(name, namespace, options):
            yield chunk

    async def token_review(self, token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        return await self.fake.token_review(token, audiences)

    async def access_review(self, identity: Identity, attributes: ResourceAttributes) -> bool:
        return await self.fake.access_review(identity, attributes)

    def as_user(self, identity: Identity) -> FakeUserView:
        return FakeUserView(self.fake, identity)

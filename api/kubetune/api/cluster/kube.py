"""The real `Cluster`: the official `kubernetes` client, its blocking calls moved off the event loop.

Every call asks for the raw JSON (`_preload_content=False`) so objects stay dicts in the
API server's shape, whatever their kind. Watches read the chunked response line by line
in a worker thread and hand events to the loop through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from kubernetes import client, config
from urllib3 import HTTPHeaderDict

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
from kubetune.api.cluster.resources import Res

WATCH_TIMEOUT_SECONDS = 290  # the server ends the watch; we resume from the last version seen
_END = object()


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """In-cluster configuration when running in a pod, else the kubeconfig."""
    if kubeconfig is None:
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            pass
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


def bearer(cfg: client.Configuration) -> str | None:
    """The Authorization header for a token-authenticated configuration, whichever client release.

    kubernetes 36 looks the token up as api_key['BearerToken'] while its own kubeconfig and
    in-cluster loaders still write api_key['authorization'] (kubernetes-client/python#2582), so
    asking the client would send requests as system:anonymous. Both names are tried here;
    get_api_key_with_prefix runs the loader's refresh hook, so rotated in-cluster tokens are re-read.
    """
    for identifier in ("BearerToken", "authorization"):
        value = cfg.get_api_key_with_prefix(identifier)
        if value:
            return str(value) if str(value).lower().startswith("bearer ") else f"Bearer {value}"
    return None


class KubeCluster:
    """Implements `Cluster` against a real API server; `as_user` gives the same API under impersonation."""

    def __init__(self, api_client: client.ApiClient, identity: Identity | None = None) -> None:
        self._api = api_client
        self._identity = identity

    def as_user(self, identity: Identity) -> KubeCluster:
        """Shares the connection pool; every request carries Impersonate-User and one Impersonate-Group
        header per group (a comma-joined value would be read as a single group name)."""
        return KubeCluster(self._api, identity)

    def _call(self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None,
              content_type: str = "application/json", timeout: float | tuple[float, float] = 30) -> Any:
        headers = HTTPHeaderDict({"Accept": "application/json", "Content-Type": content_type})
        if self._identity is not None:
            headers["Impersonate-User"] = self._identity.user
            for group in self._identity.groups:
                headers.add("Impersonate-Group", group)
        url = self._api.configuration.host + path
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode(query)
        authorization = bearer(self._api.configuration)
        if authorization:
            headers["Authorization"] = authorization
        return self._api.rest_client.request(
            method, url, headers=headers, body=body, _request_timeout=timeout)

    async def _json(self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None,
                    content_type: str = "application/json") -> Obj:
        def run() -> Obj:
            resp = self._call(method, path, body, query, content_type)
            data = resp.read()
            if not 200 <= resp.status < 300:
                raise api_exception(resp.status, resp.reason, data.decode(errors="replace"))
            return json.loads(data) if data else {}

        return await asyncio.to_thread(run)

    async def create(self, res: Res, body: Obj, namespace: str | None = None) -> Obj:
        return await self._json("POST", res.path(namespace), body)

    async def get(self, res: Res, name: str, namespace: str | None = None) -> Obj:
        return await self._json("GET", res.path(namespace, name))

    async def replace(self, res: Res, name: str, body: Obj, namespace: str | None = None) -> Obj:
        return await self._json("PUT", res.path(namespace, name), body)

    async def patch(self, res: Res, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None) -> Obj:
        return await self._json("PATCH", res.path(namespace, name, subresource), patch,
                                content_type="application/merge-patch+json")

    async def delete(self, res: Res, name: str, namespace: str | None = None) -> None:
        await self._json("DELETE", res.path(namespace, name), {"propagationPolicy": "Background"})

    async def list(self, res: Res, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> ListResult:
        query = _selectors(label_selector, field_selector)
        data = await self._json("GET", res.path(namespace), query=query)
        kind = res.kind
        items = data.get("items") or []
        for item in items:  # list items carry no apiVersion/kind; the cache and mapping want them
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", kind)
        return ListResult(items=items, resource_version=str(data.get("metadata", {}).get("resourceVersion", "")))

    async def watch(self, res: Res, resource_version: str, namespace: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None
                    ) -> AsyncIterator[WatchEvent]:
        query = [("watch", "true"), ("resourceVersion", resource_version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(WATCH_TIMEOUT_SECONDS)), *_selectors(label_selector, field_selector)]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        held: list[Any] = []  # the urllib3 response, so the consumer can cut the connection

        def hand_over(item: Any) -> None:
            if stop.is_set():
                return
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        def pump() -> None:
            try:
                resp = self._call("GET", res.path(namespace), query=query, timeout=(10, WATCH_TIMEOUT_SECONDS + 30))
                if resp.status != 200:
                    body = resp.read().decode(errors="replace")
                    raise api_exception(resp.status, resp.reason, body)
                raw = resp.response  # the urllib3 response, read as a stream
                held.append(raw)
                buffer = b""
                for chunk in raw.stream(65536):
                    if stop.is_set():
                        break
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip():
                            hand_over(json.loads(line))
                raw.release_conn()
                hand_over(_END)
            except BaseException as exc:  # handed to the consumer, which decides
                hand_over(exc)

        thread = threading.Thread(target=pump, name=f"watch-{res.plural}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item.get("type") == "ERROR":
                    status = item.get("object", {})
                    raise api_exception(int(status.get("code", 500)), status.get("reason"), json.dumps(status))
                obj = item.get("object") or {}
                obj.setdefault("apiVersion", res.api_version)
                obj.setdefault("kind", res.kind)
                yield WatchEvent(item["type"], obj)
        finally:
            stop.set()
            for raw in held:  # unblocks the thread's read
                with contextlib.suppress(Exception):
                    raw.shutdown()
                with contextlib.suppress(Exception):
                    raw.close()

    async def pod_log(self, name: str, namespace: str, options: LogOptions) -> AsyncIterator[bytes]:
        """Streams pods/{name}/log chunk by chunk from a worker thread (a followed log can stay open for hours)."""
        query = [("follow", str(options.follow).lower()), ("previous", str(options.previous).lower())]
        if options.container:
            query.append(("container", options.container))
        if options.tail_lines is not None:
            query.append(("tailLines", str(options.tail_lines)))
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        held: list[Any] = []

        def hand_over(item: Any) -> None:
            if not stop.is_set():
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
                    loop.call_soon_threadsafe(queue.put_nowait, item)

        def pump() -> None:
            try:
                resp = self._call("GET", path, query=query, timeout=(10, 86400.0 if options.follow else 60.0))
                if not 200 <= resp.status < 300:
                    raise api_exception(resp.status, resp.reason, resp.read().decode(errors="replace"))
                if resp.status == 204:  # the API server's answer for a pod not on a node yet: no log so far
                    hand_over(_END)
                    return
                raw = resp.response
                held.append(raw)
                for chunk in raw.stream(16384, decode_content=True):
                    if stop.is_set():
                        break
                    hand_over(bytes(chunk))
                raw.release_conn()
                hand_over(_END)
            except BaseException as exc:  # handed to the consumer, which decides
                hand_over(exc)

        threading.Thread(target=pump, name=f"log-{name}", daemon=True).start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            for raw in held:  # unblocks the thread's read
                with contextlib.suppress(Exception):
                    raw.shutdown()
                with contextlib.suppress(Exception):
                    raw.close()

    async def token_review(self, token: str, audiences: tuple[str, ...] = ()) -> TokenReviewResult:
        spec: dict[str, Any] = {"token": token}
        if audiences:
            spec["audiences"] = list(audiences)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        data = await self._json("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body)
        status = data.get("status") or {}
        user = status.get("user") or {}
        return TokenReviewResult(authenticated=bool(status.get("authenticated")),
                                 username=str(user.get("username", "")), groups=tuple(user.get("groups") or ()),
                                 audiences=tuple(status.get("audiences") or ()))


    async def access_review(self, identity: Identity, attributes: ResourceAttributes) -> bool:
        attrs = {"verb": attributes.verb, "resource": attributes.resource, "group": attributes.group,
                 "namespace": attributes.namespace, "name": attributes.name, "subresource": attributes.subresource}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": identity.user, "groups": list(identity.groups),
                         "resourceAttributes": {k: v for k, v in attrs.items() if v}}}
        data = await self._json("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
        return bool((data.get("status") or {}).get("allowed"))


def _selectors(label_selector: str | None, field_selector: str | None) -> list[tuple[str, str]]:
    query = []
    if label_selector:
        query.append(("labelSelector", label_selector))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    return query

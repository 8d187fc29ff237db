"""Watching a kind of object: a list, then a watch from its resourceVersion, relisting on 410 Gone.

The agent watches the pods bound to its node (fieldSelector spec.nodeName=<node>)
and, for its storage provisioner, every PersistentVolumeClaim.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from kubetune.localdev.node.kube import Kube, as_dict

log = logging.getLogger(__name__)

# (event type: ADDED / MODIFIED / DELETED / SYNC, object as a dict). SYNC carries
# each object of a fresh list; after a relist, objects missing from it arrive as DELETED.
Handler = Callable[[str, dict[str, Any]], None]
ListCall = Callable[..., Any]

WATCH_SECONDS = 60


class Watcher:
    def __init__(self, list_call: ListCall, handler: Handler, name: str, field_selector: str | None = None) -> None:
        self.list_call = list_call
        self.selector = {"field_selector": field_selector} if field_selector else {}
        self.handler = handler
        self.name = name
        self._stop = threading.Event()
        self._response: Any = None
        self._known: dict[str, dict[str, Any]] = {}  # uid -> latest object
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)
        self.synced = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            try:
                response.shutdown()
            except Exception:  # the watch thread may be closing it at the same time
                log.debug("closing the watch", exc_info=True)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    resource_version = self._relist()
                resource_version = self._watch(resource_version)
            except ApiException as error:
                if error.status == 410:
                    log.info("watch expired (410 Gone); relisting")
                    resource_version = None
                    continue
                log.warning("%s watch failed: %s", self.name, error)
                self._stop.wait(1.0)
            except Exception:
                if self._stop.is_set():
                    return
                log.warning("%s watch broke; retrying", self.name, exc_info=True)
                self._stop.wait(1.0)

    def _relist(self) -> str:
        listed = as_dict(self.list_call(_preload_content=False, **self.selector))
        current = {pod["metadata"]["uid"]: pod for pod in listed.get("items") or []}
        for uid, pod in list(self._known.items()):
            if uid not in current:
                self._dispatch("DELETED", pod)
        for obj in current.values():
            self._dispatch("SYNC", obj)
        self.synced.set()
        return str(listed["metadata"]["resourceVersion"])

    def _watch(self, resource_version: str) -> str:
        self._response = self.list_call(
            **self.selector,
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=(10, WATCH_SECONDS + 30),
        )
        try:
            for line in iter_resp_lines(self._response):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    raise ApiException(status=obj.get("code", 500), reason=obj.get("message"))
                resource_version = obj["metadata"]["resourceVersion"]
                if kind != "BOOKMARK":
                    self._dispatch(kind, obj)
        finally:
            self._response.release_conn()
            self._response = None
        return resource_version

    def _dispatch(self, kind: str, obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        if kind == "DELETED":
            self._known.pop(uid, None)
        else:
            self._known[uid] = obj
        try:
            self.handler(kind, obj)
        except Exception:
            log.exception("handling %s of %s %s failed", kind, self.name, obj["metadata"].get("name"))


def pod_watcher(kube: Kube, node_name: str, handler: Handler) -> Watcher:
    """The pods bound to `node_name`."""
    return Watcher(kube.core.list_pod_for_all_namespaces, handler, f"pods-{node_name}", f"spec.nodeName={node_name}")

"""The object-store half of the artifact finalizers, and their retry.

Shared by project_cleanup.py and training_cleanup.py. The store is reached with the platform's
credentials (the Secret the operator copies to pods, read from its own namespace); a failure is a
Warning Event and a kopf.TemporaryError, and the finalizer stays until a later try succeeds.

Both finalizers are event handlers (see training_cleanup.py for why), and kopf does not retry those:
`retry_later` schedules the next try on the event loop (one per object at a time), which reads the
object again and reconciles it as a new event would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import kopf

from kubetune.operator.events import emit
from kubetune.operator.object_cleanup import ObjectPrefix, ObjectStoreError, credentials, delete_prefix, store_client
from kubetune.operator.owner import Owner
from kubetune.operator.runtime import Runtime

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0
_scheduled: set[tuple[int, str, str | None, str]] = set()
_tasks: set[asyncio.Task[None]] = set()  # strong references until done


def remove_objects(rt: Runtime, target: ObjectPrefix, body: dict[str, Any]) -> int:
    """Delete ``target`` in the store; the number of objects deleted. kopf.TemporaryError when it failed."""
    owner = Owner.of(body)
    secret_name = rt.settings.object_store_secret
    if not secret_name:
        # No credentials of the platform's: nothing to delete with. Said, not silently skipped.
        emit(rt.kube, owner, "ObjectsKept", f"{target.uri} is not deleted: the operator has no object-store "
             "credentials (objectStore.secret unset)", warning=True)
        return 0
    try:
        secret = rt.kube.get("v1", "Secret", rt.settings.pod_namespace, secret_name)
        if secret is None:
            raise ObjectStoreError(f"the object-store Secret {rt.settings.pod_namespace}/{secret_name} does not exist")
        client = store_client(credentials(secret), rt.settings.object_store_endpoint, rt.settings.object_store_region)
        return delete_prefix(client, target)
    except ObjectStoreError as exc:
        message = f"cannot delete {target.uri} yet, retrying in {RETRY_SECONDS:.0f}s: {exc}"
        log.error("%s %s: %s", owner.kind, owner.name, message)
        emit(rt.kube, owner, "ArtifactCleanupFailed", message, warning=True)
        raise kopf.TemporaryError(message, delay=RETRY_SECONDS) from exc


async def run_with_retry(rt: Runtime, key: tuple[str, str | None, str], fetch: Callable[[], dict[str, Any] | None],
                         reconcile: Callable[[dict[str, Any]], None], body: dict[str, Any]) -> None:
    """Reconcile ``body`` in a thread; on a TemporaryError, try again later with a fresh copy."""
    try:
        await asyncio.to_thread(reconcile, body)
    except kopf.TemporaryError as exc:
        retry_later(rt, key, exc.delay or RETRY_SECONDS, fetch, reconcile)
        raise


def retry_later(rt: Runtime, key: tuple[str, str | None, str], delay: float,
                fetch: Callable[[], dict[str, Any] | None], reconcile: Callable[[dict[str, Any]], None]) -> None:
    slot = (id(rt), *key)
    if slot in _scheduled:
        return
    _scheduled.add(slot)
    loop = asyncio.get_running_loop()

    async def again() -> None:
        _scheduled.discard(slot)
        body = await asyncio.to_thread(fetch)
        if body is None:
            return  # gone meanwhile: nothing left to clean for
        with contextlib.suppress(kopf.TemporaryError):  # logged and scheduled again by run_with_retry
            await run_with_retry(rt, key, fetch, reconcile, body)

    def start(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = loop.create_task(coro())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    loop.call_later(delay, start, again)

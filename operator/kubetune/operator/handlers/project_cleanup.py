"""Deleting a project removes its prefix of the artifact store.

Every project Namespace (label kubetune.io/project) gets the ``kubetune.io/project-artifacts``
finalizer. Once the Namespace is terminating and the namespace controller has deleted everything in
it (its ``kubernetes`` finalizer is gone: no pod still writes), the operator removes
``<store>/<namespace>`` (the file store) and every object under ``<bucket>/<prefix>/<namespace>/``
(the object store, when one is configured), and then its finalizer. Without that, a project
re-created under the same name would find the old one's datasets and adapters.

If the store cannot be written (a read-only mount, a refusing bucket), the finalizer stays and the
Namespace waits, logged as an error (for the object store also a Warning Event, and a later retry):
deleting it anyway would hand the old files to the next project of that name.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.crd.references import StoreLayout
from kubetune.operator.cleanup import (
    PROJECT_FINALIZER,
    finalizer_patch,
    namespace_ready_for_cleanup,
    project_prefix,
    remove_tree,
)
from kubetune.operator.handlers.common import REGISTRY, guarded, runtime_of
from kubetune.operator.handlers.store_cleanup import remove_objects, run_with_retry
from kubetune.operator.object_cleanup import project_objects
from kubetune.operator.runtime import Runtime

log = logging.getLogger(__name__)


def remove_project_prefix(layout: StoreLayout, namespace: str) -> bool:
    prefix = project_prefix(layout, namespace)
    if prefix is None:
        return False  # no file store this process sees (object storage: see docs/security.md)
    return remove_tree(prefix, prefix.parent)


def reconcile_project_cleanup(rt: Runtime, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    name = meta["name"]
    if not meta.get("deletionTimestamp"):
        patch = finalizer_patch(meta, PROJECT_FINALIZER, present=True)
    elif PROJECT_FINALIZER in (meta.get("finalizers") or ()) and namespace_ready_for_cleanup(body):
        layout = rt.settings.reference_layout()
        try:
            if remove_project_prefix(layout, name):
                log.info("project %s deleted: removed its prefix of the artifact store", name)
        except OSError as exc:
            log.error("project %s: cannot remove its artifacts (%s); the Namespace waits", name, exc)
            raise
        objects = project_objects(layout, name)
        if objects is not None:
            count = remove_objects(rt, objects, body)
            log.info("project %s deleted: removed %d object(s) under %s", name, count, objects.uri)
        patch = finalizer_patch(meta, PROJECT_FINALIZER, present=False)
    else:
        return
    if patch is not None:
        rt.kube.patch("v1", "Namespace", None, name, patch)


@kopf.on.event("", "v1", "namespaces", labels={lbl.PROJECT: kopf.PRESENT}, registry=REGISTRY)
async def project_artifacts_finalizer(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        return
    meta = body["metadata"]
    has = PROJECT_FINALIZER in (meta.get("finalizers") or ())
    if has and not meta.get("deletionTimestamp"):
        return  # the common case: nothing to do, no thread
    rt = runtime_of(memo)
    name = meta["name"]
    await run_with_retry(rt, ("Namespace", None, name), lambda: rt.kube.get("v1", "Namespace", None, name),
                         lambda b: guarded("ProjectArtifacts", rt, lambda: reconcile_project_cleanup(rt, b)),
                         dict(body))

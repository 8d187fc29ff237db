"""A Training with artifactPolicy Delete: a finalizer, and its artifacts removed before it goes
(its output directory in the file store, or every object under its s3:// output prefix).

An event handler with its own finalizer rather than kopf.on.delete: kopf would put its finalizer on
every Training (Keep ones included) and hold their deletion whenever the operator is down.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubetune.crd.kinds import TRAINING
from kubetune.crd.references import project_root
from kubetune.operator.cleanup import TRAINING_FINALIZER, finalizer_patch, remove_tree, training_artifacts
from kubetune.operator.handlers.common import REGISTRY, guarded, resource, runtime_of
from kubetune.operator.handlers.store_cleanup import remove_objects, run_with_retry
from kubetune.operator.object_cleanup import training_objects
from kubetune.operator.runtime import Runtime

log = logging.getLogger(__name__)


def reconcile_training_artifacts(rt: Runtime, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    deleting = bool(meta.get("deletionTimestamp"))
    wants = (body.get("spec") or {}).get("artifactPolicy") == "Delete"
    if deleting:
        if TRAINING_FINALIZER not in (meta.get("finalizers") or ()):
            return
        layout = rt.settings.reference_layout()
        output = (body.get("spec") or {}).get("output")
        directory = training_artifacts(namespace, name, output, layout, rt.settings.default_output(namespace, name))
        root = project_root(layout, namespace)
        if directory is not None and root is not None and remove_tree(directory, root):
            log.info("removed the artifacts of Training %s/%s (%s)", namespace, name, directory)
        objects = training_objects(namespace, output, layout)
        if objects is not None:
            count = remove_objects(rt, objects, body)
            log.info("removed %d object(s) of Training %s/%s (%s)", count, namespace, name, objects.uri)
        patch = finalizer_patch(meta, TRAINING_FINALIZER, present=False)
    else:
        patch = finalizer_patch(meta, TRAINING_FINALIZER, present=wants)
    if patch is not None:
        rt.kube.patch(TRAINING.api_version, TRAINING.kind, namespace, name, patch)


@kopf.on.event(*resource(TRAINING), registry=REGISTRY)
async def training_artifacts_finalizer(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Most events change nothing here: decided in the event loop, a thread only when there is work."""
    if type == "DELETED":
        return
    meta = body["metadata"]
    has = TRAINING_FINALIZER in (meta.get("finalizers") or ())
    wants = (body.get("spec") or {}).get("artifactPolicy") == "Delete" and not meta.get("deletionTimestamp")
    if has == wants and not (has and meta.get("deletionTimestamp")):
        return
    rt = runtime_of(memo)
    namespace, name = meta["namespace"], meta["name"]
    await run_with_retry(rt, (TRAINING.kind, namespace, name),
                         lambda: rt.kube.get(TRAINING.api_version, TRAINING.kind, namespace, name),
                         lambda b: guarded("TrainingArtifacts", rt, lambda: reconcile_training_artifacts(rt, b)),
                         dict(body))

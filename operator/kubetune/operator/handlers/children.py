# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""Jobs, Pods and Deployments (selected by label) push their state up to the parent's status."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.operator.handlers import gang as group
from kubetune.operator.handlers.common import REGISTRY, guarded, one, runtime_of
from kubetune.operator.handlers.inferenceservice import refresh_isvc
from kubetune.operator.handlers.training import reconcile_training
from kubetune.operator.handlers.training_status import refresh_training, refresh_wanted
from kubetune.operator.runtime import Runtime


@kopf.on.event("batch", "v1", "jobs", labels={lbl.TRAINING: kopf.PRESENT}, registry=REGISTRY)
async def job_changed(type: str, namespace: str, labels: kopf.Labels, memo: kopf.Memo, training_views: Any,
                      training_jobs: Any, training_pods: Any, trainer_specs: Any, dataset_views: Any,
                      trials_by_parent: Any, **_: Any) -> None:
    rt, training = runtime_of(memo), labels[lbl.TRAINING]
    if type == "DELETED" and one(training_jobs, (namespace, training)) is None:
        # A restarting group's Job is gone (or someone deleted a running one): make the next.
        view = one(training_views, (namespace, training))
        await asyncio.to_thread(guarded, "Job", rt, lambda: group.recreate_after_restart(rt, view, lambda: (
            reconcile_training(rt, view, trainer_specs, dataset_views, training_jobs, training_pods,
                               trials_by_parent, training_views))))
        return
    await flow_up(rt, "Job", namespace, training, training_views, training_jobs, training_pods)


@kopf.on.event("", "v1", "pods", labels={lbl.TRAINING: kopf.PRESENT}, registry=REGISTRY)
async def training_pod_changed(namespace: str, labels: kopf.Labels, memo: kopf.Memo, training_views: Any,
                               training_jobs: Any, training_pods: Any, **_: Any) -> None:
    await flow_up(runtime_of(memo), "Pod", namespace, labels[lbl.TRAINING], training_views, training_jobs,
                  training_pods)


async def flow_up(rt: Runtime, kind: str, namespace: str, training: str, training_views: Any,
                  training_jobs: Any, training_pods: Any) -> None:
    """Decide in the event loop (cheap, and most events change nothing); patch in a thread."""
    if not refresh_wanted(rt, namespace, training, training_views, training_jobs, training_pods):
        return
    await asyncio.to_thread(guarded, kind, rt, lambda: refresh_training(
        rt, namespace, training, training_views, training_jobs, training_pods))


@kopf.on.event("apps", "v1", "deployments", labels={lbl.INFERENCE_SERVICE: kopf.PRESENT}, registry=REGISTRY)
def deployment_changed(namespace: str, labels: kopf.Labels, memo: kopf.Memo, isvc_views: Any,
                       server_deployments: Any, server_pods: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    guarded("Deployment", rt, lambda: refresh_isvc(
        rt, namespace, labels[lbl.INFERENCE_SERVICE], isvc_views, server_deployments, server_pods))


@kopf.on.event("", "v1", "pods", labels={lbl.INFERENCE_SERVICE: kopf.PRESENT}, registry=REGISTRY)
def server_pod_changed(namespace: str, labels: kopf.Labels, memo: kopf.Memo, isvc_views: Any,
                       server_deployments: Any, server_pods: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    guarded("Pod", rt, lambda: refresh_isvc(
        rt, namespace, labels[lbl.INFERENCE_SERVICE], isvc_views, server_deployments, server_pods))

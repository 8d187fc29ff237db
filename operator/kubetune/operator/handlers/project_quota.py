# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs.)
"""Project quotas: every project Namespace gets the chart's ResourceQuota and LimitRange, and a
Training whose pod the quota refuses is Queued with reason QuotaExceeded, not Failed.

Off when the operator has no KUBETUNE_OPERATOR_PROJECT_QUOTA (the chart's projectQuota.enabled).
An administrator's override (the facade's admin quota route) is a ConfigMap in the operator's own
namespace, read on every event of the project Namespace (the route stamps the Namespace to cause
one). The objects live in the project's Namespace and go with it; no owner reference is needed.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.operator.builders.quota import ProjectQuota, override_config_map_name, project_objects, quota_refusal
from kubetune.operator.handlers.children import flow_up
from kubetune.operator.handlers.common import REGISTRY, guarded, keep_spec, runtime_of, standing
from kubetune.operator.runtime import Runtime

log = logging.getLogger(__name__)
MAX_REMEMBERED = 10000


def ensure_project_quota(rt: Runtime, namespace: str, quota: ProjectQuota) -> None:
    override = rt.kube.get("v1", "ConfigMap", rt.settings.pod_namespace, override_config_map_name(namespace))
    objects, warning = project_objects(namespace, quota, override)
    if warning:
        log.warning("project %s: %s", namespace, warning)
    for obj in objects:
        keep_spec(rt.kube, obj)


# An event handler, as for the project's RoleBindings and NetworkPolicies: a Namespace has no status
# for kopf's records. Every event (the listing after a restart included) re-checks both objects.
@kopf.on.event("", "v1", "namespaces", labels={lbl.PROJECT: kopf.PRESENT}, registry=REGISTRY)
def project_quota(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime_of(memo)
    quota = rt.settings.project_quota
    if quota is None or not standing(type, body):
        return
    name = body["metadata"]["name"]
    guarded("Namespace", rt, lambda: ensure_project_quota(rt, name, quota))


def _is_refusal(body: kopf.Body, **_: Any) -> bool:
    return quota_refusal(body) is not None


# The Job controller reports a pod the quota refused only as an Event (the Job's status does not
# change), so the Events are the one place to learn it. Filtered to FailedCreate on Jobs.
@kopf.on.event("", "v1", "events", field="reason", value="FailedCreate", when=_is_refusal, registry=REGISTRY)
async def job_refused_by_quota(body: kopf.Body, memo: kopf.Memo, training_views: Any, training_jobs: Any,
                               training_pods: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    involved = body.get("involvedObject") or {}
    namespace, job_name = involved.get("namespace"), involved.get("name")
    message = quota_refusal(body)
    if not namespace or not job_name or message is None:
        return
    rt.quota_refusals.pop((namespace, job_name), None)  # re-inserted last: the oldest go first below
    rt.quota_refusals[(namespace, job_name)] = (involved.get("uid"), message)
    while len(rt.quota_refusals) > MAX_REMEMBERED:  # Jobs deleted while refused are never looked up again
        rt.quota_refusals.pop(next(iter(rt.quota_refusals)))
    training = next((key[1] for key, jobs in list(training_jobs.items())
                     if key[0] == namespace and any(j.get("name") == job_name for j in jobs)), None)
    if training is not None:
        await flow_up(rt, "Event", namespace, training, training_views, training_jobs, training_pods)

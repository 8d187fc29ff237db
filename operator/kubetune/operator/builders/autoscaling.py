"""An InferenceService's autoscaler: a KEDA ScaledObject where KEDA is installed, else an HPA on CPU.

The ScaledObject's load trigger reads the servers' own gauges (active requests or queue depth) straight
from each ready pod's /metrics with KEDA's metrics-api scaler, so no Prometheus is needed; where one
scrapes the servers, spec.autoscaling.prometheusAddress switches to a PromQL trigger.

Never both: KEDA runs its own HPA for a ScaledObject, and two HPAs on one Deployment fight. Scale to
zero is not left to either (kubetune.operator.scale_to_zero decides it from Kubernetes state): at zero
the Deployment's replicas are 0, which the HPA controller leaves alone ("ScalingDisabled"), and a
ScaledObject is paused at 0 with KEDA's paused-replicas annotation.
"""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd import serving_keys
from kubetune.crd.autoscaling import Autoscaling
from kubetune.operator.builders.deployment import server_labels
from kubetune.operator.owner import Owner, child_metadata
from kubetune.operator.settings import Settings

KEDA_API_VERSION = "keda.sh/v1alpha1"
KEDA_CRD = "scaledobjects.keda.sh"
KEDA_PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
HPA_API_VERSION = "autoscaling/v2"
POLLING_SECONDS = 15


def autoscaler_name(isvc: str) -> str:
    return lbl.server_deployment_name(isvc)


def _target(isvc: str) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": lbl.server_deployment_name(isvc)}


def _behavior(autoscaling: Autoscaling) -> dict[str, Any] | None:
    """The HPA's scale-down window; None (in a merge patch: removed) leaves Kubernetes' default."""
    seconds = autoscaling.scale_down_stabilization_seconds
    return None if seconds is None else {"scaleDown": {"stabilizationWindowSeconds": seconds}}


def build_hpa(owner: Owner, autoscaling: Autoscaling) -> dict[str, Any]:
    """autoscaling/v2 on CPU utilisation (of the pods' CPU requests), between the spec's bounds."""
    return {
        "apiVersion": HPA_API_VERSION,
        "kind": "HorizontalPodAutoscaler",
        "metadata": child_metadata(owner, autoscaler_name(owner.name), server_labels(owner.name)),
        "spec": {
            "scaleTargetRef": _target(owner.name),
            "minReplicas": autoscaling.min_replicas,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": autoscaling.target_cpu_utilization}}}],
            "behavior": _behavior(autoscaling),
        },
    }


def prometheus_query(metric: str, namespace: str, isvc: str) -> str:
    """The fleet's total of a server gauge; KEDA divides by the threshold to get replicas."""
    pods = f"{lbl.server_deployment_name(isvc)}-.*"
    return f'sum({metric}{{namespace="{namespace}",pod=~"{pods}"}})'


def metrics_url(owner: Owner, settings: Settings) -> str:
    """The servers' own /metrics behind their Service, at the pods' port: KEDA asks every ready endpoint."""
    return (f"http://{lbl.server_service_name(owner.name)}.{owner.namespace}.svc.{settings.cluster_domain}:"
            f"{settings.serve_port}/metrics")


def trigger_authentication_name(isvc: str) -> str:
    return lbl.server_deployment_name(isvc)


def build_trigger_authentication(owner: Owner) -> dict[str, Any]:
    """KEDA's credentials for the servers' /metrics: the service's own key, from its key Secret."""
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": child_metadata(owner, trigger_authentication_name(owner.name), server_labels(owner.name)),
        "spec": {"secretTargetRef": [{"parameter": "bearerToken", "name": serving_keys.secret_name(owner.name),
                                      "key": serving_keys.CLIENT_KEY}]},
    }


def _load_trigger(owner: Owner, autoscaling: Autoscaling, settings: Settings, metric: str, threshold: int,
                  authenticated: bool) -> dict[str, Any]:
    """Without a Prometheus: KEDA's metrics-api scaler reads the gauge from every ready server's /metrics
    and sums it (no scrape pipeline needed). With spec.autoscaling.prometheusAddress: a PromQL sum there."""
    if autoscaling.prometheus_address:
        return {"type": "prometheus", "metadata": {
            "serverAddress": autoscaling.prometheus_address,
            "query": prometheus_query(metric, owner.namespace or "", owner.name), "threshold": str(threshold)}}
    trigger: dict[str, Any] = {"type": "metrics-api", "metricType": "AverageValue", "metadata": {
        "url": metrics_url(owner, settings), "format": "prometheus", "valueLocation": metric,
        "targetValue": str(threshold), "aggregateFromKubeServiceEndpoints": "true", "aggregationType": "sum"}}
    if authenticated:
        trigger["metadata"]["authModes"] = "bearer"
        trigger["authenticationRef"] = {"name": trigger_authentication_name(owner.name)}
    return trigger


def build_scaled_object(owner: Owner, autoscaling: Autoscaling, asleep: bool, settings: Settings,
                        authenticated: bool) -> dict[str, Any]:
    """A trigger on the servers' active requests (or queue depth), CPU when neither target is set.

    ``authenticated``: the servers ask for a key (spec.auth apiKey), so KEDA presents the service's own."""
    threshold: int | None
    if autoscaling.target_queue_depth is not None:
        metric, threshold = "kubetune_serve_queue_depth", autoscaling.target_queue_depth
    else:
        metric, threshold = "kubetune_serve_active_requests", autoscaling.target_concurrency
    triggers: list[dict[str, Any]]
    if threshold is None:
        triggers = [{"type": "cpu", "metricType": "Utilization",
                     "metadata": {"value": str(autoscaling.target_cpu_utilization)}}]
    else:
        triggers = [_load_trigger(owner, autoscaling, settings, metric, threshold, authenticated)]
    meta = child_metadata(owner, autoscaler_name(owner.name), server_labels(owner.name))
    # Merge patches: None removes the pause when the service wakes.
    meta["annotations"] = {KEDA_PAUSED_REPLICAS: "0" if asleep else None}
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "ScaledObject",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": _target(owner.name),
            "minReplicaCount": autoscaling.min_replicas,
            "maxReplicaCount": autoscaling.max_replicas,
            "pollingInterval": POLLING_SECONDS,
            "triggers": triggers,
            # KEDA passes this to the HPA it runs; None removes it in the operator's merge patch.
            "advanced": None if (behavior := _behavior(autoscaling)) is None else {
                "horizontalPodAutoscalerConfig": {"behavior": behavior}},
        },
    }

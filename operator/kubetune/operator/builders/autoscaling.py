"""An InferenceService's autoscaler: a KEDA ScaledObject where KEDA is installed, else an HPA on CPU.

Never both: KEDA runs its own HPA for a ScaledObject, and two HPAs on one Deployment fight. Scale to
zero is not left to either (kubetune.operator.scale_to_zero decides it from Kubernetes state): at zero
the Deployment's replicas are 0, which the HPA controller leaves alone ("ScalingDisabled"), and a
ScaledObject is paused at 0 with KEDA's paused-replicas annotation.
"""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.autoscaling import Autoscaling
from kubetune.operator.builders.deployment import server_labels
from kubetune.operator.owner import Owner, child_metadata

KEDA_API_VERSION = "keda.sh/v1alpha1"
KEDA_CRD = "scaledobjects.keda.sh"
KEDA_PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
HPA_API_VERSION = "autoscaling/v2"
DEFAULT_PROMETHEUS = "http://prometheus-server.monitoring.svc:80"
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


def build_scaled_object(owner: Owner, autoscaling: Autoscaling, asleep: bool) -> dict[str, Any]:
    """A prometheus trigger on the servers' active requests (or queue depth), CPU when neither is set."""
    namespace = owner.namespace or ""
    address = autoscaling.prometheus_address or DEFAULT_PROMETHEUS
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
        triggers = [{"type": "prometheus", "metadata": {
            "serverAddress": address, "query": prometheus_query(metric, namespace, owner.name),
            "threshold": str(threshold)}}]
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

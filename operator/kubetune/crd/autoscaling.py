"""An InferenceService's autoscaling: replica bounds, the per-replica target, scale to zero when idle.

The operator renders an autoscaling/v2 HorizontalPodAutoscaler (CPU) and, where KEDA's
ScaledObject CRD is installed, a ScaledObject on the servers' own metrics instead
(operator/kubetune/operator/builders/autoscaling.py). Scale to zero is the operator's own
decision, from Kubernetes state only (the facade's last-request annotation): docs/inference.md.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from kubetune.crd.base import CamelModel

# Shortest idle period: the facade refreshes its last-request annotation at most every few seconds
# and the operator checks idleness on a timer, so a shorter period would scale down a busy server.
MIN_IDLE_SECONDS = 10


class Autoscaling(CamelModel):
    """Replicas follow load between minReplicas and maxReplicas; with scaleToZero, to 0 when idle."""

    min_replicas: int = Field(default=1, ge=1, le=100, description="Fewest replicas while awake.")
    max_replicas: int = Field(default=3, ge=1, le=100, description="Most replicas.")
    target_concurrency: int | None = Field(
        default=None, ge=1, le=10000,
        description="Requests in flight per replica to aim for (KEDA, metric kubetune_serve_active_requests).")
    target_queue_depth: int | None = Field(
        default=None, ge=1, le=10000,
        description="Queued requests per replica to aim for (KEDA, metric kubetune_serve_queue_depth).")
    target_cpu_utilization: int = Field(
        default=80, ge=1, le=100,
        description="CPU utilisation percent per replica for the HPA fallback (needs a metrics API).")
    prometheus_address: str | None = Field(
        default=None, max_length=512,
        description="A Prometheus that scrapes the servers, for a PromQL trigger (KEDA). Unset: KEDA reads "
        "the gauge from each ready server's /metrics itself (its metrics-api scaler).")
    scale_down_stabilization_seconds: int | None = Field(
        default=None, ge=0, le=3600,
        description="How long the load must stay low before replicas are removed: the autoscaler's scale-down "
        "stabilisation window (HPA behavior, or KEDA's HPA). Unset: Kubernetes' 300 s.")
    scale_to_zero: bool = Field(default=False, description="Scale to 0 replicas after idleSeconds without requests.")
    idle_seconds: int = Field(default=300, ge=MIN_IDLE_SECONDS, le=86400,
                              description="Seconds without a request before scaling to zero.")

    @model_validator(mode="after")
    def _consistent(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.minReplicas must not exceed maxReplicas")
        if self.target_concurrency is not None and self.target_queue_depth is not None:
            raise ValueError("autoscaling needs at most one of targetConcurrency and targetQueueDepth")
        return self


# On an InferenceService: when the facade last passed it a request (RFC 3339, UTC), refreshed at most
# every LAST_REQUEST_REFRESH_SECONDS. The operator's idleness clock for scale to zero; the facade's
# write of it also wakes a service at zero.
LAST_REQUEST_ANNOTATION = "kubetune.io/last-request"
LAST_REQUEST_REFRESH_SECONDS = 5.0

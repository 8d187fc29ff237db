"""A thin interface over the Kubernetes API: the protocol, a real client and an in-memory fake."""

from kubetune.api.cluster.base import Cluster, ListResult, TokenReviewResult, WatchEvent
from kubetune.api.cluster.resources import (
    CONFIG_MAPS,
    DATASETS,
    EVENTS,
    INFERENCE_SERVICES,
    NAMESPACES,
    NODES,
    PODS,
    SECRETS,
    TRAINERS,
    TRAININGS,
    Res,
)

__all__ = [
    "CONFIG_MAPS", "DATASETS", "EVENTS", "INFERENCE_SERVICES", "NAMESPACES", "NODES", "PODS", "SECRETS",
    "TRAINERS", "TRAININGS", "Cluster", "ListResult", "Res", "TokenReviewResult", "WatchEvent",
]

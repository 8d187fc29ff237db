"""A thin interface over the Kubernetes API: the protocol, a real client and an in-memory fake."""

from kubetune.api.cluster.base import (
    Cluster,
    Identity,
    ListResult,
    ResourceAttributes,
    TokenReviewResult,
    WatchEvent,
)
from kubetune.api.cluster.resources import (
    CONFIG_MAPS,
    DATASETS,
    EVENTS,
    INFERENCE_SERVICES,
    NAMESPACES,
    NODES,
    PODS,
    ROLE_BINDINGS,
    SECRETS,
    TRAINERS,
    TRAININGS,
    Res,
)

__all__ = [
    "CONFIG_MAPS", "DATASETS", "EVENTS", "INFERENCE_SERVICES", "NAMESPACES", "NODES", "PODS", "ROLE_BINDINGS",
    "SECRETS", "TRAINERS", "TRAININGS", "Cluster", "Identity", "ListResult", "Res", "ResourceAttributes",
    "TokenReviewResult", "WatchEvent",
]

"""kopf handlers: thin functions over the pure builders, registered into one registry.

Importing this package registers every handler into REGISTRY; main.py and the
integration tests pass that registry to kopf.
"""

from kubetune.operator.handlers import (  # noqa: F401 - imported for their registrations
    children,
    dataset,
    indexes,
    inferenceservice,
    isvc_autoscaler,
    isvc_idle,
    lifecycle,
    project_access,
    project_cleanup,
    project_namespaces,
    project_network,
    project_quota,
    queue_status,
    trainer,
    training,
    training_cleanup,
)
from kubetune.operator.handlers.common import REGISTRY

__all__ = ["REGISTRY"]

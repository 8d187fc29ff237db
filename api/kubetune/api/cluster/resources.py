"""The resource types the facade touches, with their REST coordinates."""

from __future__ import annotations

from dataclasses import dataclass

from kubetune.crd.kinds import DATASET, INFERENCE_SERVICE, TRAINER, TRAINING, Kind


@dataclass(frozen=True)
class Res:
    """Where a resource type lives in the API: group ('' for core), version, plural, scope."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


def _custom(kind: Kind) -> Res:
    group, version = kind.api_version.split("/")
    return Res(group, version, kind.plural, kind.kind, kind.scope == "Namespaced")


TRAININGS = _custom(TRAINING)
TRAINERS = _custom(TRAINER)
DATASETS = _custom(DATASET)
INFERENCE_SERVICES = _custom(INFERENCE_SERVICE)
NAMESPACES = Res("", "v1", "namespaces", "Namespace", False)
EVENTS = Res("", "v1", "events", "Event", True)
SECRETS = Res("", "v1", "secrets", "Secret", True)
CONFIG_MAPS = Res("", "v1", "configmaps", "ConfigMap", True)
NODES = Res("", "v1", "nodes", "Node", False)
PODS = Res("", "v1", "pods", "Pod", True)
ROLE_BINDINGS = Res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True)

"""Project Namespaces: their owner becomes the project's admin, as a RoleBinding Kubernetes enforces.

The facade creates a project's Namespace (with the owner annotation) and may do nothing else in it,
so the first binding is written here; the facade waits for it before answering. After that,
membership is the project admins' business: a new owner (set by a platform admin) is added to the
admin binding once; nobody is ever removed, and a removed owner is not added back.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.crd import project_roles as pr
from kubetune.operator.builders.project_rbac import build_admin_binding, owner_grant, owner_of
from kubetune.operator.handlers.common import REGISTRY, guarded, runtime_of, standing
from kubetune.operator.kube import Kube

RBAC_V1 = "rbac.authorization.k8s.io/v1"


def ensure_owner_is_admin(kube: Kube, namespace: dict[str, Any]) -> None:
    owner = owner_of(namespace)
    if owner is None:
        return
    name = namespace["metadata"]["name"]
    if kube.create(build_admin_binding(name, owner)) is not None:
        return
    current = kube.get(RBAC_V1, "RoleBinding", name, pr.binding_name("admin"))  # 409: it exists
    if current is None:
        raise kopf.TemporaryError("the admin RoleBinding vanished between create and read", delay=1)
    patch = owner_grant(current, owner)
    if patch is not None:  # a 409 (someone edited it meanwhile) is transient: the next event retries
        kube.patch(RBAC_V1, "RoleBinding", name, pr.binding_name("admin"), patch)


# An event handler, not create/update: kopf keeps its records in status.kopf, which a Namespace
# cannot hold. Every event (the initial listing after a restart included) re-checks the binding;
# Namespaces change rarely, and a check is one POST answered 409 plus one GET.
@kopf.on.event("", "v1", "namespaces", labels={lbl.PROJECT: kopf.PRESENT}, registry=REGISTRY)
def project_owner_access(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime_of(memo)
    if not standing(type, body):
        return
    guarded("Namespace", rt, lambda: ensure_owner_is_admin(rt.kube, dict(body)))

"""Project Namespaces get the NetworkPolicies of builders/network_policy.py, kept as the chart says.

Off when the operator has no KUBETUNE_OPERATOR_PROJECT_NETWORK (the chart's networkPolicy.enabled).
The policies live in the project's Namespace and go with it; no owner reference is needed.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.operator.builders.network_policy import (
    ProjectNetwork,
    api_server_egress,
    build_project_policies,
    kubernetes_endpoints,
)
from kubetune.operator.handlers.common import REGISTRY, guarded, keep_spec, runtime_of, standing
from kubetune.operator.runtime import Runtime


def api_server_addresses(rt: Runtime) -> tuple[list[str], list[int]]:
    """default/kubernetes, read only when the chart names no API server address."""
    service = rt.kube.get("v1", "Service", "default", "kubernetes")
    endpoints = rt.kube.get("v1", "Endpoints", "default", "kubernetes")
    endpoint_slice = rt.kube.get("discovery.k8s.io/v1", "EndpointSlice", "default", "kubernetes")
    return kubernetes_endpoints(service, endpoints, endpoint_slice)


def ensure_project_policies(rt: Runtime, namespace: str, network: ProjectNetwork) -> None:
    configured = network.api_server
    addresses: tuple[list[str], list[int]] = ([], [])
    if not (configured.cidrs or configured.peers):
        addresses = api_server_addresses(rt)
    api_server = api_server_egress(network, *addresses)
    for policy in build_project_policies(namespace, network, api_server):
        keep_spec(rt.kube, policy)


# An event handler, as for the project's RoleBindings (handlers/project_access.py): a Namespace has no
# status for kopf's records. Every event (the listing after a restart included) re-checks the two
# policies: two POSTs answered 409 and two GETs, on objects that change rarely.
@kopf.on.event("", "v1", "namespaces", labels={lbl.PROJECT: kopf.PRESENT}, registry=REGISTRY)
def project_network_policies(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime_of(memo)
    network = rt.settings.project_network
    if network is None or not standing(type, body):
        return
    name = body["metadata"]["name"]
    guarded("Namespace", rt, lambda: ensure_project_policies(rt, name, network))

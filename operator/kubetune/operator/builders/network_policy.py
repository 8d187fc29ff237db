"""NetworkPolicies of a project Namespace: who may reach its inference servers, where its trainers may go.

Pure functions of the project's name and the chart's settings (``ProjectNetwork``, passed to the
operator as JSON in KUBETUNE_OPERATOR_PROJECT_NETWORK). Two policies per project:

- ``kubetune-servers``: inference server pods accept traffic only from the facade's pods, from
  pods of their own namespace (a project's own clients) and, on their http port, from the chart's
  metrics scrapers (KEDA's operator reads their /metrics to autoscale); other projects and the rest
  of the cluster are refused. Their egress stays open: they load models from the store or the hub.
- ``kubetune-trainers``: training pods may reach only the API server (status reports), the store,
  the model hub, the experiment tracker (MLflow), the cluster DNS, and each other (rendezvous of
  multi-pod runs); nothing reaches
  them except their own kind in the namespace.

Enforcement needs a CNI that implements NetworkPolicy (Calico, Cilium, ...); without one the
objects are created and ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kubetune.crd import labels as lbl

SERVERS_POLICY = "kubetune-servers"
TRAINERS_POLICY = "kubetune-trainers"
NETWORKING_V1 = "networking.k8s.io/v1"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every Namespace


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Egress(_Model):
    """One destination of trainer traffic: address blocks and/or NetworkPolicy peers, on some ports."""

    cidrs: list[str] = Field(default_factory=list, description="IP blocks, e.g. 10.0.0.1/32.")
    peers: list[dict[str, Any]] = Field(
        default_factory=list, description="NetworkPolicy peers as written (namespaceSelector, podSelector)."
    )
    ports: list[int] = Field(default_factory=list, description="TCP ports; empty: every port.")

    def rule(self) -> dict[str, Any] | None:
        """An egress rule, or None when this destination names nothing (then nothing is allowed)."""
        to = [{"ipBlock": {"cidr": cidr}} for cidr in self.cidrs] + list(self.peers)
        if not to:
            return None
        rule: dict[str, Any] = {"to": to}
        if self.ports:
            rule["ports"] = [{"protocol": "TCP", "port": port} for port in self.ports]
        return rule


class ProjectNetwork(_Model):
    """What the chart tells the operator (values networkPolicy.projects plus the facade's identity)."""

    facade_namespace: str = Field(description="Namespace of the facade's pods.")
    facade_pod_labels: dict[str, str] = Field(description="Labels that select the facade's pods.")
    api_server: Egress = Field(
        default_factory=lambda: Egress(ports=[443, 6443]),
        description="The API server; empty cidrs and peers: the addresses of default/kubernetes, discovered.",
    )
    store: Egress = Field(default_factory=Egress, description="The object store (S3); nothing for a PVC store.")
    hub: Egress = Field(default_factory=Egress, description="The model hub (hf://); empty: no hub access.")
    tracking: Egress = Field(default_factory=Egress,
                             description="The experiment tracker (spec.tracking.mlflow); the chart's own MLflow "
                                         "when mlflow.enabled; empty: trainers cannot log to one.")
    dns: bool = Field(default=True, description="Allow DNS (port 53) to the cluster DNS in kube-system.")
    metrics_scrapers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="NetworkPolicy peers that may reach the servers' http port for /metrics (KEDA, Prometheus).")


def _policy(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": NETWORKING_V1,
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {lbl.MANAGED_BY: lbl.MANAGER, lbl.PROJECT: namespace}},
        "spec": spec,
    }


def _pods(component: str) -> dict[str, Any]:
    return {"matchLabels": {lbl.COMPONENT: component, lbl.MANAGED_BY: lbl.MANAGER}}


def build_servers_policy(namespace: str, network: ProjectNetwork) -> dict[str, Any]:
    facade = {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: network.facade_namespace}},
        "podSelector": {"matchLabels": dict(network.facade_pod_labels)},
    }
    same_namespace: dict[str, Any] = {"podSelector": {}}
    ingress: list[dict[str, Any]] = [{"from": [facade, same_namespace]}]
    if network.metrics_scrapers:  # only the server's port (named in its pod), where /metrics is
        ingress.append({"from": list(network.metrics_scrapers), "ports": [{"protocol": "TCP", "port": "http"}]})
    return _policy(namespace, SERVERS_POLICY, {
        "podSelector": _pods("server"),
        "policyTypes": ["Ingress"],
        "ingress": ingress,
    })


def dns_rule() -> dict[str, Any]:
    return {
        "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def api_server_egress(network: ProjectNetwork, discovered: list[str], discovered_ports: list[int]) -> Egress:
    """The configured API server, or the addresses found on default/kubernetes when none is configured."""
    configured = network.api_server
    if configured.cidrs or configured.peers:
        return configured
    ports = sorted({*configured.ports, *discovered_ports})
    return Egress(cidrs=[ip if "/" in ip else (f"{ip}/128" if ":" in ip else f"{ip}/32") for ip in discovered],
                  ports=ports)


def build_trainers_policy(namespace: str, network: ProjectNetwork, api_server: Egress) -> dict[str, Any]:
    trainers = {"podSelector": _pods("trainer")}
    targets = (api_server, network.store, network.hub, network.tracking)
    egress = [rule for rule in (target.rule() for target in targets) if rule]
    if network.dns:
        egress.append(dns_rule())
    egress.append({"to": [trainers]})
    return _policy(namespace, TRAINERS_POLICY, {
        "podSelector": _pods("trainer"),
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [trainers]}],
        "egress": egress,
    })


def build_project_policies(namespace: str, network: ProjectNetwork, api_server: Egress) -> list[dict[str, Any]]:
    return [build_servers_policy(namespace, network), build_trainers_policy(namespace, network, api_server)]


def kubernetes_endpoints(service: dict[str, Any] | None, endpoints: dict[str, Any] | None,
                         endpoint_slice: dict[str, Any] | None = None) -> tuple[list[str], list[int]]:
    """Addresses and ports of the API server as default/kubernetes shows them (Service IP and endpoints).

    CNIs match egress after the Service's address is translated, so the endpoints are what counts;
    the Service IP is included for those that match before. Endpoints is deprecated (1.33+), so the
    EndpointSlice of the same name is read too; a control plane without an endpoint reconciler has
    neither, and only the Service IP is known.
    """
    ips: list[str] = []
    ports: list[int] = []
    spec = (service or {}).get("spec") or {}
    ips += [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    ports += [p["port"] for p in spec.get("ports") or [] if p.get("port")]
    for subset in (endpoints or {}).get("subsets") or []:
        ips += [a["ip"] for a in subset.get("addresses") or [] if a.get("ip")]
        ports += [p["port"] for p in subset.get("ports") or [] if p.get("port")]
    for endpoint in (endpoint_slice or {}).get("endpoints") or []:
        ips += [ip for ip in endpoint.get("addresses") or [] if ip]
    ports += [p["port"] for p in (endpoint_slice or {}).get("ports") or [] if p.get("port")]
    return sorted(set(ips)), sorted(set(ports))

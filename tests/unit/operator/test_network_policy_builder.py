"""Project NetworkPolicies: who reaches inference servers, where trainers may go (builders/network_policy.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from kubetune.operator.builders.network_policy import (
    SERVERS_POLICY,
    TRAINERS_POLICY,
    Egress,
    ProjectNetwork,
    api_server_egress,
    build_project_policies,
    kubernetes_endpoints,
)
from kubetune.operator.handlers.project_network import ensure_project_policies
from kubetune.operator.runtime import Runtime

pytestmark = pytest.mark.unit
FACADE = {"app.kubernetes.io/name": "kubetune", "app.kubernetes.io/component": "api"}


def network(**values: Any) -> ProjectNetwork:
    return ProjectNetwork.model_validate({"facadeNamespace": "kubetune-system", "facadePodLabels": FACADE,
                                          **values})


def policies(net: ProjectNetwork, api: Egress | None = None) -> dict[str, dict[str, Any]]:
    api = api or Egress(cidrs=["10.0.0.1/32"], ports=[6443])
    return {p["metadata"]["name"]: p for p in build_project_policies("kt-a", net, api)}


def test_servers_accept_only_the_facade_and_their_own_namespace() -> None:
    policy = policies(network())[SERVERS_POLICY]
    assert policy["metadata"]["namespace"] == "kt-a"
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert spec["policyTypes"] == ["Ingress"]  # servers still download models
    [rule] = spec["ingress"]
    facade, own = rule["from"]
    assert facade == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kubetune-system"}},
                      "podSelector": {"matchLabels": FACADE}}
    assert own == {"podSelector": {}}  # a podSelector alone means: this namespace only
    assert "ports" not in rule


def test_metrics_scrapers_reach_only_the_servers_http_port() -> None:
    keda = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
            "podSelector": {"matchLabels": {"app": "keda-operator"}}}
    spec = policies(network(metricsScrapers=[keda]))[SERVERS_POLICY]["spec"]
    clients, scrapers = spec["ingress"]
    assert len(clients["from"]) == 2 and "ports" not in clients
    assert scrapers == {"from": [keda], "ports": [{"protocol": "TCP", "port": "http"}]}


def test_trainers_reach_only_the_api_server_store_hub_dns_and_each_other() -> None:
    net = network(store={"cidrs": ["10.1.0.0/16"], "ports": [9000]},
                  hub={"peers": [{"namespaceSelector": {"matchLabels": {"name": "hub-mirror"}}}], "ports": [443]})
    spec = policies(net)[TRAINERS_POLICY]["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "trainer"
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    api, store, hub, dns, peers = spec["egress"]
    assert api == {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "ports": [{"protocol": "TCP", "port": 6443}]}
    assert store == {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 9000}]}
    assert hub["to"] == [{"namespaceSelector": {"matchLabels": {"name": "hub-mirror"}}}]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert peers == {"to": [{"podSelector": spec["podSelector"]}]}
    assert spec["ingress"] == [{"from": [{"podSelector": spec["podSelector"]}]}]


def test_an_unconfigured_store_or_hub_allows_nothing_and_dns_can_be_turned_off() -> None:
    spec = policies(network(dns=False))[TRAINERS_POLICY]["spec"]
    assert len(spec["egress"]) == 2  # the API server and the other trainers: no 0.0.0.0/0 anywhere
    assert all(r.get("to") and "0.0.0.0/0" not in str(r) for r in spec["egress"])


def test_the_api_server_is_discovered_from_default_kubernetes_unless_configured() -> None:
    service = {"spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"port": 443}]}}
    endpoints = {"subsets": [{"addresses": [{"ip": "172.18.0.2"}, {"ip": "fd00::2"}], "ports": [{"port": 6443}]}]}
    ips, ports = kubernetes_endpoints(service, endpoints)
    assert ips == ["10.96.0.1", "172.18.0.2", "fd00::2"] and ports == [443, 6443]
    found = api_server_egress(network(), ips, ports)
    assert found.cidrs == ["10.96.0.1/32", "172.18.0.2/32", "fd00::2/128"] and found.ports == [443, 6443]
    endpoint_slice = {"endpoints": [{"addresses": ["172.18.0.3"]}], "ports": [{"port": 6444}]}
    assert kubernetes_endpoints(service, None, endpoint_slice) == (["10.96.0.1", "172.18.0.3"], [443, 6444])
    configured = network(apiServer={"cidrs": ["192.168.1.10/32"], "ports": [6443]})
    assert api_server_egress(configured, ips, ports).cidrs == ["192.168.1.10/32"]


class FakeKube:
    def __init__(self, existing: dict[str, dict[str, Any]] | None = None) -> None:
        self.objects = existing or {}
        self.replaced: list[dict[str, Any]] = []
        self.reads: list[tuple[str, str]] = []

    def create(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        name = manifest["metadata"]["name"]
        if name in self.objects:
            return None
        self.objects[name] = manifest
        return manifest

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.reads.append((kind, name))
        if kind == "Service":
            return {"spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}}
        if kind == "Endpoints":
            return {"subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 6443}]}]}
        if kind == "EndpointSlice":
            return None
        return self.objects.get(name)

    def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.replaced.append(manifest)
        self.objects[manifest["metadata"]["name"]] = manifest
        return manifest


def _runtime(kube: FakeKube) -> Runtime:
    return cast(Runtime, SimpleNamespace(kube=kube))


def test_the_handler_creates_both_policies_with_the_discovered_api_server() -> None:
    kube = FakeKube()
    ensure_project_policies(_runtime(kube), "kt-a", network())
    assert set(kube.objects) == {SERVERS_POLICY, TRAINERS_POLICY}
    api_rule = kube.objects[TRAINERS_POLICY]["spec"]["egress"][0]
    assert api_rule["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}, {"ipBlock": {"cidr": "127.0.0.1/32"}}]
    assert not kube.replaced


def test_the_handler_puts_back_a_policy_that_differs_and_leaves_a_current_one() -> None:
    kube = FakeKube()
    ensure_project_policies(_runtime(kube), "kt-a", network())
    kube.objects[SERVERS_POLICY] = {**kube.objects[SERVERS_POLICY], "spec": {"podSelector": {}},
                                    "metadata": {"name": SERVERS_POLICY, "resourceVersion": "7"}}
    kube.objects[TRAINERS_POLICY]["metadata"]["resourceVersion"] = "8"
    ensure_project_policies(_runtime(kube), "kt-a", network())
    [put] = kube.replaced
    assert put["metadata"]["name"] == SERVERS_POLICY and put["metadata"]["resourceVersion"] == "7"
    assert put["spec"]["policyTypes"] == ["Ingress"]


def test_a_configured_api_server_needs_no_lookup() -> None:
    kube = FakeKube()
    ensure_project_policies(_runtime(kube), "kt-a", network(apiServer={"cidrs": ["10.0.0.1/32"]}))
    assert not [r for r in kube.reads if r[0] in ("Service", "Endpoints", "EndpointSlice")]


def test_trainers_reach_the_experiment_tracker_when_one_is_configured() -> None:
    tracker = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kubetune-system"}},
               "podSelector": {"matchLabels": {"app.kubernetes.io/component": "mlflow"}}}
    spec = policies(network(tracking={"peers": [tracker], "ports": [5000]}))[TRAINERS_POLICY]["spec"]
    [_, tracking, _, _] = spec["egress"]  # the API server, the tracker, DNS, the other trainers
    assert tracking == {"to": [tracker], "ports": [{"protocol": "TCP", "port": 5000}]}
    assert len(policies(network())[TRAINERS_POLICY]["spec"]["egress"]) == 3  # unconfigured: no tracker rule

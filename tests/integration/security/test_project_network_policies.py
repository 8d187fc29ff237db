"""Every project Namespace gets the chart's NetworkPolicies from the operator, running under the chart's RBAC.

The operator runs in-process with a token of the chart's operator ServiceAccount (its ClusterRole and
Role applied for real) and the settings the chart renders. What is checked here is what the API
server stores; enforcement needs a CNI, which the real-cluster suite has.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kube_waits import wait_for
from kubernetes import client

from kubetune.chart.helm import helm_path, template
from kubetune.crd import labels as lbl
from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.builders.network_policy import SERVERS_POLICY, TRAINERS_POLICY
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


@pytest.fixture(scope="module")
def chart_operator(control_plane: ControlPlane, api_client: client.ApiClient,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chart's operator RBAC and project-network settings, and the operator running with exactly those."""
    tag = uuid.uuid4().hex[:8]
    release, home = f"np{tag}", f"np-sys-{tag}"
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespace({"metadata": {"name": home}})
    rendered = [d for d in yaml.safe_load_all(template(release, home, {
        "networkPolicy.projects.hub.cidrs[0]": "203.0.113.0/24", "networkPolicy.projects.hub.ports[0]": "443"},
        helm=helm_path())) if d]
    mine = [d for d in rendered if d["kind"] in RBAC_KINDS
            and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "operator"]
    for doc in mine:
        _create(api_client, doc)
    deployment = next(d for d in rendered if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("operator"))
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    account = next(d["metadata"]["name"] for d in mine if d["kind"] == "ServiceAccount")
    token = core.create_namespaced_service_account_token(account, home, client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))).status.token
    kubeconfig = yaml.safe_load(control_plane.kubeconfig.read_text())
    kubeconfig["users"] = [{"name": kubeconfig["users"][0]["name"], "user": {"token": token}}]
    path = tmp_path_factory.mktemp("np") / "operator.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    settings = Settings(kubeconfig=str(path), pod_namespace=home, artifact_pvc=None,
                        artifact_mount_path=str(tmp_path_factory.mktemp("np-store")), leader_election=False,
                        metrics_port=0, health_port=0, log_format="text", workers=4,
                        project_network=json.loads(env["KUBETUNE_OPERATOR_PROJECT_NETWORK"]))
    try:
        with OperatorThread(settings):
            yield home
    finally:
        for doc in mine:
            if doc["kind"] == "ClusterRole":
                rbac.delete_cluster_role(doc["metadata"]["name"])
            elif doc["kind"] == "ClusterRoleBinding":
                rbac.delete_cluster_role_binding(doc["metadata"]["name"])
        core.delete_namespace(home)


def _create(api: client.ApiClient, doc: dict[str, Any]) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    ns = doc["metadata"].get("namespace")
    {"ServiceAccount": lambda: core.create_namespaced_service_account(ns, doc),
     "ClusterRole": lambda: rbac.create_cluster_role(doc),
     "ClusterRoleBinding": lambda: rbac.create_cluster_role_binding(doc),
     "Role": lambda: rbac.create_namespaced_role(ns, doc),
     "RoleBinding": lambda: rbac.create_namespaced_role_binding(ns, doc)}[doc["kind"]]()


@pytest.fixture
def project(api_client: client.ApiClient) -> Iterator[str]:
    name = f"np-proj-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name, "labels": {lbl.PROJECT: name}}})
    yield name
    core.delete_namespace(name)


def _policy(api_client: client.ApiClient, namespace: str, name: str,
            predicate: Any = lambda o: True) -> dict[str, Any]:
    return wait_for(client.NetworkingV1Api(api_client).list_namespaced_network_policy, predicate, namespace,
                    field_selector=f"metadata.name={name}")


def test_a_project_gets_both_policies_with_the_discovered_api_server(
        chart_operator: str, project: str, api_client: client.ApiClient) -> None:
    servers = _policy(api_client, project, SERVERS_POLICY)
    rule, scrapers = servers["spec"]["ingress"]
    facade, own = rule["from"]
    # The chart's default metrics scraper, KEDA's operator, reaches only the servers' http port.
    assert scrapers["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert scrapers["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "keda"}
    assert facade["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": chart_operator}
    assert facade["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert own == {"podSelector": {}}
    trainers = _policy(api_client, project, TRAINERS_POLICY)["spec"]
    assert trainers["policyTypes"] == ["Ingress", "Egress"]
    core = client.CoreV1Api(api_client)
    service = core.read_namespaced_service("kubernetes", "default")
    # This control plane runs without an endpoint reconciler (--endpoint-reconciler-type=none): it has
    # neither Endpoints nor an EndpointSlice for `kubernetes`, and the Service IP is all there is to find.
    slices = client.DiscoveryV1Api(api_client).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=kubernetes").items
    endpoints = [ip for es in slices for e in es.endpoints or [] for ip in e.addresses or []]
    api_rule = trainers["egress"][0]
    # The Service address and the API server's own endpoints (what CNIs see after translation).
    assert sorted(b["ipBlock"]["cidr"] for b in api_rule["to"]) == sorted(
        {f"{ip}/32" for ip in [service.spec.cluster_ip, *endpoints]})
    assert {p["port"] for p in api_rule["ports"]} >= {443, 6443}
    hub = trainers["egress"][1]
    assert hub == {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    assert not any("0.0.0.0/0" in json.dumps(r) for r in trainers["egress"])


def test_an_edited_policy_is_put_back_on_the_projects_next_event(
        chart_operator: str, project: str, api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    original = _policy(api_client, project, SERVERS_POLICY)
    net.patch_namespaced_network_policy(SERVERS_POLICY, project, {"spec": {"ingress": [{}]}})  # allow everyone
    client.CoreV1Api(api_client).patch_namespace(project, {"metadata": {"annotations": {"touched": "yes"}}})
    restored = _policy(api_client, project, SERVERS_POLICY, lambda o: o["spec"] == original["spec"])
    assert restored["spec"]["ingress"][0]["from"]


def test_an_ordinary_namespace_gets_none(chart_operator: str, project: str, namespace: str,
                                         api_client: client.ApiClient) -> None:
    _policy(api_client, project, TRAINERS_POLICY)  # the operator has seen the namespaces by now
    assert client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items == []


def test_the_operator_may_read_only_the_api_servers_own_service(chart_operator: str,
                                                                api_client: client.ApiClient) -> None:
    """Its right to look the API server up is limited to default/kubernetes (resourceNames)."""
    user = f"system:serviceaccount:{chart_operator}:{chart_operator.replace('np-sys-', 'np')}-kubetune-operator"

    def may(resource: str, name: str, verb: str = "get") -> bool:
        plural, _, group = resource.partition(".")
        review = client.AuthorizationV1Api(api_client).create_subject_access_review({
            "spec": {"user": user, "resourceAttributes": {"namespace": "default", "verb": verb, "group": group,
                                                          "resource": plural, "name": name}}})
        return bool(review.status.allowed)

    assert may("services", "kubernetes") and may("endpoints", "kubernetes")
    assert may("endpointslices.discovery.k8s.io", "kubernetes")
    assert not may("services", "other") and not may("secrets", "kubernetes") and not may("services", "", "list")

"""The worker node's configuration builders: what the kubelet, containerd, CNI and kube-proxy are
told, checked as plain data (the settings this host needs are the ones that broke without them)."""

from __future__ import annotations

import base64
import ipaddress
import tomllib
from pathlib import Path
from unittest import mock

import pytest

from kubetune.cluster import addons, configs, netns
from kubetune.cluster.configs import NodePaths
from kubetune.cluster.netns import NodeNetwork
from kubetune.localdev.certs import LocalPKI

pytestmark = pytest.mark.unit


def test_node_addresses_stay_inside_their_own_ranges() -> None:
    one, two = NodeNetwork(1), NodeNetwork(2)
    link = ipaddress.ip_network("10.213.1.0/30")
    assert ipaddress.ip_address(one.host_address) in link and ipaddress.ip_address(one.node_address) in link
    assert one.pod_gateway == "10.245.1.1"
    assert not ipaddress.ip_network(one.pod_subnet).overlaps(ipaddress.ip_network(two.pod_subnet))
    assert len(one.host_veth) < 16  # the kernel's limit on interface names


def test_containerd_has_its_own_socket_and_root_and_the_cri_option_this_host_needs(tmp_path: Path) -> None:
    paths = NodePaths(tmp_path)
    config = tomllib.loads(configs.containerd_toml(paths, "kubetune.local/pause:abc"))
    assert config["grpc"]["address"] == str(paths.containerd_socket)
    assert config["root"].startswith(str(tmp_path)) and config["state"].startswith(str(tmp_path))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == "kubetune.local/pause:abc"
    assert cri["cni"]["conf_dir"] == str(paths.cni_conf_dir)
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False


def test_cni_bridge_gives_pods_the_node_subnet_and_no_masquerade(tmp_path: Path) -> None:
    bridge = configs.cni_conflist(NodeNetwork(1), NodePaths(tmp_path))["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["isGateway"] and not bridge["ipMasq"]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.245.1.0/24", "gateway": "10.245.1.1"}]]
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path))  # allocations reset with the node


def test_kubelet_serves_on_the_node_address_and_authenticates_the_api_server(tmp_path: Path) -> None:
    paths, net = NodePaths(tmp_path), NodeNetwork(1)
    config = configs.kubelet_config(paths, net, tmp_path / "ca.crt")
    assert config["address"] == "10.213.1.2"
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == str(tmp_path / "ca.crt")
    assert config["authorization"]["mode"] == "Webhook"
    assert config["clusterDNS"] == [configs.CLUSTER_DNS]
    assert config["resolvConf"] == str(paths.resolv_conf)
    assert config["containerRuntimeEndpoint"] == f"unix://{paths.containerd_socket}"


def test_kube_proxy_leaves_global_conntrack_settings_alone(tmp_path: Path) -> None:
    config = configs.kube_proxy_config(NodeNetwork(1), tmp_path / "kp.kubeconfig", "kubetune-worker-1")
    assert config["mode"] == "iptables" and config["iptables"]["masqueradeAll"] is True
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["hostnameOverride"] == "kubetune-worker-1"


def test_kubernetes_service_endpoints_point_at_the_relay() -> None:
    endpoints, slice_ = addons.kubernetes_endpoints("10.213.1.2")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "10.213.1.2"}]
    assert endpoints["subsets"][0]["ports"][0]["port"] == configs.API_RELAY_PORT
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert slice_["ports"][0]["name"] == "https"  # matched by name to the Service's port


def test_coredns_answers_only_for_the_cluster() -> None:
    objects = {o["kind"]: o for o in addons.coredns("kubetune.local/coredns:abc")}
    assert "forward" not in addons.COREFILE
    assert objects["Service"]["spec"]["clusterIP"] == configs.CLUSTER_DNS
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["imagePullPolicy"] == "Never"


def test_storage_is_a_default_class_over_node_pinned_host_paths(tmp_path: Path) -> None:
    objects = addons.storage([tmp_path / "pv1", tmp_path / "pv2"], "kubetune-worker-1")
    storage_class, *volumes = objects
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert [v["spec"]["hostPath"]["path"] for v in volumes] == [str(tmp_path / "pv1"), str(tmp_path / "pv2")]
    terms = volumes[0]["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["kubetune-worker-1"]
    assert {v["spec"]["storageClassName"] for v in volumes} == {addons.STORAGE_CLASS}


def test_metrics_server_is_verified_by_the_api_server_and_verifies_its_callers(tmp_path: Path) -> None:
    pki = LocalPKI(tmp_path / "pki")
    cert, key = pki.issue_serving("metrics-server", ("metrics-server.kube-system.svc",))
    objects = addons.metrics_server("kubetune.local/metrics-server:abc", pki.paths.ca_cert, cert, key)
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    service = by_kind[("APIService", addons.METRICS_APISERVICE)]["spec"]
    assert "insecureSkipTLSVerify" not in service
    assert base64.b64decode(service["caBundle"]) == pki.paths.ca_cert.read_bytes()
    assert (service["service"]["name"], service["service"]["namespace"]) == ("metrics-server", "kube-system")
    secret = by_kind[("Secret", "metrics-server-tls")]["data"]
    assert base64.b64decode(secret["tls.crt"]) == cert.read_bytes()
    # Delegated authn/authz: the front proxy's CA from kube-system, SubjectAccessReviews for callers.
    roles = {o["roleRef"]["name"] for o in objects if o["kind"] in ("ClusterRoleBinding", "RoleBinding")}
    assert {"system:auth-delegator", "extension-apiserver-authentication-reader"} <= roles
    pod = by_kind[("Deployment", "metrics-server")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "--tls-cert-file=/tls/tls.crt" in container["args"]
    rules = by_kind[("ClusterRole", "kubetune:metrics-server")]["rules"]
    assert {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]} in rules
    assert not any("*" in r["verbs"] or "create" in r["verbs"] for r in rules)


def test_the_host_routes_only_the_node_pod_subnet_into_the_namespace() -> None:
    calls: list[tuple[str, ...]] = []
    with mock.patch.object(netns, "run", side_effect=lambda *argv, **_: calls.append(argv)):
        NodeNetwork(2).create()
    routes = [c for c in calls if c[:3] == ("ip", "route", "replace")]
    assert routes == [("ip", "route", "replace", "10.245.2.0/24", "via", "10.213.2.2", "dev", "ktn2h")]
    # Inside the namespace nothing is routed out: no default route is ever added.
    assert not any("default" in c for c in calls)

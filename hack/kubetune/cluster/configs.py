"""Configuration files of a worker node, as pure functions of its paths and addresses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.cluster.netns import NodeNetwork

CLUSTER_DNS = "10.0.0.10"  # inside the control plane's service range (10.0.0.0/24)
CLUSTER_DOMAIN = "cluster.local"
POD_CIDR = "10.245.0.0/16"
API_RELAY_PORT = 6443  # the node-side end of the relay to the API server on the host's loopback
CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins


@dataclass(frozen=True)
class NodePaths:
    """Everything one node writes lives under `root`."""

    root: Path

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd.toml"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet.yaml"

    @property
    def kube_proxy_config(self) -> Path:
        return self.root / "kube-proxy.yaml"

    @property
    def resolv_conf(self) -> Path:
        return self.root / "resolv.conf"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"


def containerd_toml(paths: NodePaths, sandbox_image: str) -> str:
    """containerd 1.6 (config version 2) with its own root, state and socket, so it never meets the
    host's containerd (Docker's), and the CRI options this host needs."""
    d = paths.root / "containerd"
    return f"""version = 2
root = "{d / 'root'}"
state = "{d / 'state'}"
[grpc]
  address = "{paths.containerd_socket}"
[ttrpc]
  address = "{d / 'containerd.sock.ttrpc'}"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # Lowering a container's oom_score_adj needs CAP_SYS_RESOURCE, which this sandbox lacks:
  # without this every pod sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{paths.cni_conf_dir}"
"""


def cni_conflist(net: NodeNetwork, paths: NodePaths) -> dict[str, Any]:
    """A bridge inside the node's namespace; pods route everything via the bridge (their gateway),
    where kube-proxy's rules turn Service addresses into pod or relay addresses. No masquerade
    out of the node: there is nowhere to go."""
    return {
        "cniVersion": "0.4.0",
        "name": "kubetune",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "kt-cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    # Its own allocation records (not /var/lib/cni), reset with the node.
                    "dataDir": str(paths.root / "cni-ipam"),
                    "ranges": [[{"subnet": net.pod_subnet, "gateway": net.pod_gateway}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(paths: NodePaths, net: NodeNetwork, client_ca: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # Serve on the node's address inside its namespace: the API server reaches it there
        # (`kubectl logs`, `exec`), nothing outside this machine can.
        "address": net.node_address,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        # The API server authenticates with its kubelet client certificate; the kubelet asks the
        # API server (SubjectAccessReview) whether that user may read logs or exec.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        # This host: cgroup v1, cgroupfs (no systemd), swap not managed, no node allocatable
        # enforcement (the sandbox cannot write every cgroup knob), one shared disk.
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "enforceNodeAllocatable": [],
        "localStorageCapacityIsolation": False,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": CLUSTER_DOMAIN,
        # Pods with dnsPolicy Default get no upstream servers: nothing resolves outside the cluster.
        "resolvConf": str(paths.resolv_conf),
        "serializeImagePulls": False,
        "maxPods": 110,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,
    }


def kube_proxy_config(net: NodeNetwork, kubeconfig: Path, node_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": node_name,
        "clusterCIDR": POD_CIDR,
        "bindAddress": net.node_address,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # conntrack limits are global, not per namespace: leave them to the host.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        # Masquerade Service traffic, so that replies from a pod on the same bridge come back
        # through the gateway without br_netfilter.
        "iptables": {"masqueradeAll": True},
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")

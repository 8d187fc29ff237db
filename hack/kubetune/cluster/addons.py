"""What the cluster needs besides nodes, as manifests: the API server's Service endpoints, cluster
DNS (CoreDNS, in a pod), the resource metrics API (metrics-server, in a pod) and storage (a default
StorageClass over static hostPath volumes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetune.cluster.configs import API_RELAY_PORT, CLUSTER_DNS, CLUSTER_DOMAIN
from kubetune.cluster.manifests import RBAC, b64, binding, system_deployment

Manifest = dict[str, Any]
DNS_NAMESPACE = "kube-system"
SYSTEM_NAMESPACE = "kube-system"
METRICS_APISERVICE = "v1beta1.metrics.k8s.io"
STORAGE_CLASS = "standard"


def kubernetes_endpoints(node_address: str) -> list[Manifest]:
    """The `kubernetes` Service's endpoints, which the control plane does not reconcile (its
    address is loopback): the relay on the node, which forwards to the API server."""
    meta = {"name": "kubernetes", "namespace": "default"}
    return [
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
         "subsets": [{"addresses": [{"ip": node_address}],
                      "ports": [{"name": "https", "port": API_RELAY_PORT, "protocol": "TCP"}]}]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {**meta, "labels": {"kubernetes.io/service-name": "kubernetes",
                                         "endpointslice.kubernetes.io/managed-by": "kubetune-cluster"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": [node_address], "conditions": {"ready": True}}],
         "ports": [{"name": "https", "port": API_RELAY_PORT, "protocol": "TCP"}]},
    ]


COREFILE = f"""\
.:1053 {{
    errors
    health :8080
    ready :8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loadbalance
}}
"""
# No `forward`: names outside the cluster are not resolved, so pods never query a server
# outside this machine.


def coredns(image: str) -> list[Manifest]:
    labels = {"k8s-app": "kube-dns"}
    meta = {"name": "coredns", "namespace": DNS_NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "kubetune:coredns"},
         "rules": [
             {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
              "verbs": ["list", "watch"]},
             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
         ]},
        binding("ClusterRoleBinding", "kubetune:coredns", "ClusterRole", "kubetune:coredns", DNS_NAMESPACE,
                "coredns"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"Corefile": COREFILE}},
        system_deployment("coredns", DNS_NAMESPACE, labels, "coredns", {
            "name": "coredns",
            "image": image,
            "args": ["-conf", "/etc/coredns/Corefile"],
            "ports": [{"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                      {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
            "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
        }, [{"name": "config", "configMap": {"name": "coredns"}}], dnsPolicy="Default"),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": DNS_NAMESPACE, "labels": labels},
         "spec": {"clusterIP": CLUSTER_DNS, "selector": labels,
                  "ports": [{"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"}]}},
    ]


def metrics_server(image: str, ca: Path, cert: Path, key: Path) -> list[Manifest]:
    """metrics-server behind the aggregated `metrics.k8s.io` API: what `kubectl top` and an HPA on CPU
    utilisation read. It serves with a certificate of the cluster CA for its Service name, so the API
    server verifies it (`caBundle`), and scrapes each kubelet's /metrics/resource with its service
    account token, which the kubelet checks by TokenReview and SubjectAccessReview."""
    name, ns = "metrics-server", SYSTEM_NAMESPACE
    meta = {"name": name, "namespace": ns}
    labels = {"k8s-app": name}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "kubetune:metrics-server"},
         "rules": [
             {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
             {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
         ]},
        binding("ClusterRoleBinding", "kubetune:metrics-server", "ClusterRole", "kubetune:metrics-server", ns, name),
        # Delegated authentication and authorization: it asks the API server who a caller is and
        # whether they may read metrics, and reads the front proxy's CA from kube-system.
        binding("ClusterRoleBinding", "kubetune:metrics-server:auth-delegator", "ClusterRole",
                "system:auth-delegator", ns, name),
        binding("RoleBinding", "kubetune:metrics-server:auth-reader", "Role",
                "extension-apiserver-authentication-reader", ns, name, namespace="kube-system"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "metrics-server-tls", "namespace": ns},
         "type": "kubernetes.io/tls", "data": {"tls.crt": b64(cert), "tls.key": b64(key)}},
        system_deployment(name, ns, labels, name, {
            "name": name,
            "image": image,
            "args": [
                "--secure-port=10250",
                "--tls-cert-file=/tls/tls.crt",
                "--tls-private-key-file=/tls/tls.key",
                "--kubelet-preferred-address-types=InternalIP",
                "--kubelet-use-node-status-port",
                "--metric-resolution=15s",
                # Kubelets serve with self-signed certificates here (serverTLSBootstrap is off), the same
                # reason the API server does not verify them.
                "--kubelet-insecure-tls",
            ],
            "ports": [{"name": "https", "containerPort": 10250, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 5},
            "livenessProbe": {"httpGet": {"path": "/livez", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            # Its certificate comes from the Secret, so it writes nothing (no --cert-dir).
            "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": True}],
        }, [{"name": "tls", "secret": {"secretName": "metrics-server-tls"}}]),
        {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "labels": labels},
         "spec": {"selector": labels,
                  "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": METRICS_APISERVICE},
         "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                  "service": {"name": name, "namespace": ns, "port": 443},
                  "caBundle": b64(ca), "groupPriorityMinimum": 100, "versionPriority": 100}},
    ]


def storage(volume_dirs: list[Path], node_name: str, size: str = "50Gi") -> list[Manifest]:
    """A default StorageClass with no provisioner and one hostPath PersistentVolume per directory,
    pinned to the node that holds it. Claims bind to a free volume at once; the volumes allow
    every access mode (one node: ReadWriteMany is true here)."""
    objects: list[Manifest] = [{
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kubernetes.io/no-provisioner",
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "Immediate",
    }]
    for directory in volume_dirs:
        objects.append({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"kubetune-local-{directory.name}", "labels": {"kubetune.io/local-volume": "true"}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": str(directory), "type": "Directory"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}]}]}},
            },
        })
    return objects

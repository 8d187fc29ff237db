"""What the cluster needs besides nodes, as manifests: the API server's Service endpoints, cluster
DNS (CoreDNS, in a pod) and storage (a default StorageClass over static hostPath volumes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetune.cluster.configs import API_RELAY_PORT, CLUSTER_DNS, CLUSTER_DOMAIN

Manifest = dict[str, Any]
DNS_NAMESPACE = "kube-system"
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
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubetune:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubetune:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": DNS_NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"Corefile": COREFILE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "labels": labels},
         "spec": {
             "replicas": 1,
             "selector": {"matchLabels": labels},
             "template": {
                 "metadata": {"labels": labels},
                 "spec": {
                     "serviceAccountName": "coredns",
                     "dnsPolicy": "Default",
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532},
                     "containers": [{
                         "name": "coredns",
                         "image": image,
                         "imagePullPolicy": "Never",
                         "args": ["-conf", "/etc/coredns/Corefile"],
                         "ports": [{"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                                   {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"}],
                         "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                         "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                         "resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                                       "limits": {"memory": "128Mi"}},
                         "securityContext": {"allowPrivilegeEscalation": False,
                                             "readOnlyRootFilesystem": True,
                                             "capabilities": {"drop": ["ALL"]}},
                         "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
                     }],
                     "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                 },
             },
         }},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": DNS_NAMESPACE, "labels": labels},
         "spec": {"clusterIP": CLUSTER_DNS, "selector": labels,
                  "ports": [{"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"}]}},
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

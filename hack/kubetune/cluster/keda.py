"""KEDA in the real cluster, laid out as its release installs it: the operator and the metrics adapter
(keda-metrics-apiserver, behind the aggregated API `external.metrics.k8s.io`) as Deployments in `keda`,
KEDA's own CRDs and ClusterRoles from the pinned module (hack/keda/build.sh copies them), and one
certificate of the cluster CA that both use for their mutual-TLS gRPC link and the adapter for serving.

The cluster does not install it: a cluster without KEDA is the default (the operator's HPA fallback), so
`up` writes these manifests to <state>/addons/keda.json and a test applies them (`kubectl apply
--server-side -f`) and deletes them again (tests/e2e/test_autoscaling_keda_cluster.py).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kubetune.cluster.manifests import Manifest, b64, binding, system_deployment

NAMESPACE = "keda"
OPERATOR = "keda-operator"
ADAPTER = "keda-metrics-apiserver"
CERTS_SECRET = "kedaorg-certs"  # noqa: S105 - the Secret's name, the one KEDA's release gives it
EXTERNAL_APISERVICE = "v1beta1.external.metrics.k8s.io"
GRPC_PORT = 9666


def certificate_hosts(cluster_domain: str = "cluster.local") -> tuple[str, ...]:
    """The names the operator's gRPC server and the adapter's API are reached by."""
    return tuple(f"{svc}.{NAMESPACE}.svc{suffix}" for svc in (OPERATOR, ADAPTER)
                 for suffix in ("", f".{cluster_domain}"))


def _release_roles(keda_dir: Path) -> list[Manifest]:
    """KEDA's own ClusterRoles and Role (operator, external metrics reader), as its release ships them."""
    roles: list[Manifest] = []
    for name in ("operator.yaml", "metrics-server.yaml"):
        roles += [doc for doc in yaml.safe_load_all((keda_dir / "rbac" / name).read_text()) if doc]
    return roles


def _deployment(name: str, image: str, args: list[str], port: int, probe_port: int, scheme: str) -> Manifest:
    def probe(path: str, period: int) -> Manifest:
        return {"httpGet": {"path": path, "port": probe_port, "scheme": scheme}, "periodSeconds": period}

    return system_deployment(name, NAMESPACE, {"app": name}, OPERATOR, {
        "name": name, "image": image, "args": args,
        "env": [
            {"name": "WATCH_NAMESPACE", "value": ""},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "KEDA_CLUSTER_OBJECT_NAMESPACE", "value": NAMESPACE},
            {"name": "OPERATOR_NAME", "value": OPERATOR},
        ],
        "ports": [{"containerPort": port}],
        "readinessProbe": probe("/readyz", 5),
        "livenessProbe": {**probe("/healthz", 10), "initialDelaySeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "100Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [{"name": "certificates", "mountPath": "/certs", "readOnly": True}],
    }, [{"name": "certificates", "secret": {"secretName": CERTS_SECRET}}])


def _service(name: str, port: int, target: int) -> Manifest:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"selector": {"app": name}, "ports": [{"name": "main", "port": port, "targetPort": target}]}}


def keda_manifests(keda_dir: Path, operator_image: str, adapter_image: str, ca: Path, cert: Path, key: Path,
                   cluster_domain: str = "cluster.local") -> list[Manifest]:
    """Everything KEDA needs, in apply order (CRDs and namespace first, the APIService last)."""
    crds = [yaml.safe_load(path.read_text()) for path in sorted((keda_dir / "crds").glob("*.yaml"))]
    operator_args = [
        "--leader-elect=false", "--zap-log-level=info",
        "--health-probe-bind-address=:8081", "--metrics-bind-address=:8080",
        f"--metrics-service-bind-address=:{GRPC_PORT}",
        # The certificate is this cluster's (below), not one KEDA generates and rotates itself.
        "--cert-dir=/certs", "--enable-cert-rotation=false",
    ]
    adapter_args = [
        "--secure-port=6443", "--cert-dir=/certs",
        "--tls-cert-file=/certs/tls.crt", "--tls-private-key-file=/certs/tls.key",
        f"--metrics-service-address={OPERATOR}.{NAMESPACE}.svc.{cluster_domain}:{GRPC_PORT}",
        "--zap-log-level=info",
    ]
    return [
        *crds,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": OPERATOR, "namespace": NAMESPACE}},
        *_release_roles(keda_dir),
        binding("ClusterRoleBinding", OPERATOR, "ClusterRole", OPERATOR, NAMESPACE, OPERATOR),
        binding("RoleBinding", OPERATOR, "Role", OPERATOR, NAMESPACE, OPERATOR, namespace=NAMESPACE),
        # The adapter is an extension API server: delegated authentication and authorization.
        binding("ClusterRoleBinding", "keda-system-auth-delegator", "ClusterRole", "system:auth-delegator",
                 NAMESPACE, OPERATOR),
        binding("RoleBinding", "keda-auth-reader", "Role", "extension-apiserver-authentication-reader",
                 NAMESPACE, OPERATOR, namespace="kube-system"),
        # kube-controller-manager's HPA controller reads the external metrics KEDA's HPAs name.
        binding("ClusterRoleBinding", "keda-hpa-controller-external-metrics", "ClusterRole",
                 "keda-external-metrics-reader", "kube-system", "horizontal-pod-autoscaler"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": CERTS_SECRET, "namespace": NAMESPACE},
         "type": "kubernetes.io/tls",
         "data": {"ca.crt": b64(ca), "tls.crt": b64(cert), "tls.key": b64(key)}},
        _deployment(OPERATOR, operator_image, operator_args, GRPC_PORT, 8081, "HTTP"),
        _service(OPERATOR, GRPC_PORT, GRPC_PORT),
        _deployment(ADAPTER, adapter_image, adapter_args, 6443, 6443, "HTTPS"),
        _service(ADAPTER, 443, 6443),
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": EXTERNAL_APISERVICE},
         "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1",
                  "service": {"name": ADAPTER, "namespace": NAMESPACE, "port": 443},
                  "caBundle": b64(ca), "groupPriorityMinimum": 100, "versionPriority": 100}},
    ]

"""KEDA's in-cluster manifests (kubetune.cluster.keda): KEDA's own CRDs and roles, bound as its release binds
them, one certificate of the cluster CA for the operator/adapter link and the aggregated API, apply order."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kubetune.cluster import keda
from kubetune.localdev.certs import LocalPKI

pytestmark = pytest.mark.unit


def _keda_dir(tmp_path: Path) -> Path:
    """What hack/keda/build.sh leaves: crds/*.yaml and rbac/{operator,metrics-server}.yaml."""
    root = tmp_path / "keda"
    (root / "crds").mkdir(parents=True)
    (root / "rbac").mkdir()
    (root / "crds" / "keda.sh_scaledobjects.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "scaledobjects.keda.sh"}}))
    (root / "rbac" / "operator.yaml").write_text(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: keda-operator}\n"
        "rules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
        "metadata: {name: keda-operator, namespace: keda}\nrules: []\n")
    (root / "rbac" / "metrics-server.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        "metadata: {name: keda-external-metrics-reader}\nrules: []\n")
    return root


def test_keda_is_installed_from_its_own_release_files_with_the_clusters_certificate(tmp_path: Path) -> None:
    pki = LocalPKI(tmp_path / "pki")
    cert, key = pki.issue_serving("keda", keda.certificate_hosts(), client=True)
    objects = keda.keda_manifests(_keda_dir(tmp_path), "r/keda-operator:1", "r/keda-adapter:1",
                                  pki.paths.ca_cert, cert, key)
    kinds = [o["kind"] for o in objects]
    # CRDs and the namespace before anything that lives in them; the APIService once its pods exist.
    assert kinds[0] == "CustomResourceDefinition" and kinds[1] == "Namespace" and kinds[-1] == "APIService"
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert ("ClusterRole", "keda-operator") in by and ("Role", "keda-operator") in by
    hpa_binding = by[("ClusterRoleBinding", "keda-hpa-controller-external-metrics")]
    assert hpa_binding["subjects"] == [{"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler",
                                        "namespace": "kube-system"}]
    apiservice = by[("APIService", keda.EXTERNAL_APISERVICE)]["spec"]
    assert base64.b64decode(apiservice["caBundle"]) == pki.paths.ca_cert.read_bytes()
    secret = by[("Secret", keda.CERTS_SECRET)]["data"]
    assert set(secret) == {"ca.crt", "tls.crt", "tls.key"}

    # One certificate for both ends of the gRPC link and for the adapter's API: both usages, every name.
    issued = x509.load_pem_x509_certificate(base64.b64decode(secret["tls.crt"]))
    usages = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {u.dotted_string for u in usages} == {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}
    names = set(issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                .get_values_for_type(x509.DNSName))
    adapter = by[("Deployment", keda.ADAPTER)]["spec"]["template"]["spec"]["containers"][0]
    address = next(a.split("=", 1)[1] for a in adapter["args"] if a.startswith("--metrics-service-address="))
    assert address.rsplit(":", 1)[0] in names
    assert f"{keda.ADAPTER}.keda.svc" in names  # the name the API server verifies
    operator = by[("Deployment", keda.OPERATOR)]["spec"]["template"]["spec"]
    assert operator["containers"][0]["image"] == "r/keda-operator:1"
    assert "--enable-cert-rotation=false" in operator["containers"][0]["args"]
    assert operator["securityContext"]["runAsNonRoot"] is True

"""The operator's admission webhook as the chart renders it: Secret, Service, configuration and the pod's side."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import Render, env_of, find, helm_template, one
from cryptography import x509

pytestmark = pytest.mark.unit
NAME = "kt-kubetune-operator-webhook"
HOST = f"{NAME}.kubetune-system.svc"


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(one(objects, "Deployment", "kt-kubetune-operator")["spec"]["template"]["spec"])


def test_the_configuration_trusts_the_ca_that_signed_the_served_certificate(render: Render) -> None:
    objects = render()
    secret = one(objects, "Secret", f"{NAME}-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["annotations"]["kubetune.io/host"] == HOST
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    cert.verify_directly_issued_by(ca)  # raises unless the CA signed it
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert HOST in names  # the name the API server dials for clientConfig.service

    webhooks = one(objects, "ValidatingWebhookConfiguration", "kt-kubetune-operator-admission")["webhooks"]
    assert [w["name"] for w in webhooks] == ["trainings.validate.kubetune.io",
                                             "inferenceservices.validate.kubetune.io"]
    for webhook, plural in zip(webhooks, ("trainings", "inferenceservices"), strict=True):
        assert webhook["clientConfig"] == {
            "service": {"namespace": "kubetune-system", "name": NAME, "path": f"/validate/{plural}", "port": 443},
            "caBundle": secret["data"]["ca.crt"]}
        assert webhook["rules"] == [{"apiGroups": ["kubetune.io"], "apiVersions": ["*"], "resources": [plural],
                                     "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"}]
        # Deliberate defaults (docs/operator.md): a down operator never blocks a sync; the operator re-validates.
        assert (webhook["failurePolicy"], webhook["timeoutSeconds"], webhook["sideEffects"]) == ("Ignore", 5, "None")
        assert webhook["matchConditions"] == [{"name": "spec-changed", "expression":
                                               "request.operation == 'CREATE' || oldObject.spec != object.spec"}]
        assert "namespaceSelector" not in webhook  # the operator watches every namespace


def test_every_operator_pod_serves_it_with_the_secret_mounted(render: Render) -> None:
    objects = render()
    pod = _pod(objects)
    container = pod["containers"][0]
    env = env_of(container)
    assert env["KUBETUNE_OPERATOR_WEBHOOK_PORT"] == "9443"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "webhook-tls")
    assert mount["readOnly"] is True
    assert env["KUBETUNE_OPERATOR_WEBHOOK_CERT_FILE"] == f"{mount['mountPath']}/tls.crt"
    assert env["KUBETUNE_OPERATOR_WEBHOOK_KEY_FILE"] == f"{mount['mountPath']}/tls.key"
    volume = next(v for v in pod["volumes"] if v["name"] == "webhook-tls")
    assert volume["secret"]["secretName"] == f"{NAME}-tls"
    assert {"name": "webhook", "containerPort": 9443} in container["ports"]
    service = one(objects, "Service", NAME)
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443, "targetPort": "webhook"}]
    labels = one(objects, "Deployment", "kt-kubetune-operator")["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    policy = one(objects, "NetworkPolicy", "kt-kubetune-operator")
    assert {"ports": [{"port": "webhook"}]} in policy["spec"]["ingress"]


def test_values_shape_it(render: Render) -> None:
    objects = render({"admissionWebhook.failurePolicy": "Fail", "admissionWebhook.timeoutSeconds": "10",
                      "admissionWebhook.port": "8443", "operator.watchNamespaces[0]": "team-a"})
    for webhook in one(objects, "ValidatingWebhookConfiguration")["webhooks"]:
        assert (webhook["failurePolicy"], webhook["timeoutSeconds"]) == ("Fail", 10)
        assert webhook["namespaceSelector"] == {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a"]}]}
    assert env_of(_pod(objects)["containers"][0])["KUBETUNE_OPERATOR_WEBHOOK_PORT"] == "8443"


def test_switched_off_nothing_of_it_remains(render: Render) -> None:
    objects = render({"admissionWebhook.enabled": "false"})
    assert not find(objects, "ValidatingWebhookConfiguration")
    assert not find(objects, "Service", NAME) and not find(objects, "Secret", f"{NAME}-tls")
    container = _pod(objects)["containers"][0]
    assert not any(k.startswith("KUBETUNE_OPERATOR_WEBHOOK") for k in env_of(container))
    assert "webhook" not in {p["name"] for p in container["ports"]}
    assert {"ports": [{"port": "webhook"}]} not in one(objects, "NetworkPolicy", "kt-kubetune-operator")["spec"][
        "ingress"]


def test_bad_values_are_refused_by_the_schema(helm: Path) -> None:
    for values in ({"admissionWebhook.failurePolicy": "Sometimes"}, {"admissionWebhook.timeoutSeconds": "60"}):
        done = helm_template(helm, values)
        assert done.returncode != 0 and "admissionWebhook" in done.stderr, values

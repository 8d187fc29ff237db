"""`kubectl apply` of a Training the operator would fail is refused by the operator's webhook, in its words.

The operator's admission server (kubetune.operator.admission) serves on 127.0.0.1 with a test CA; the
chart's ValidatingWebhookConfiguration is registered on the real API server with a url and that CA instead
of the in-cluster Service, and confined to this test's namespace. No node, no pods: the API server calls the
webhook itself. The chart's certificate is also rendered against the control plane (helm's lookup), as an
upgrade does, to show it is kept.
"""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubetune.chart.helm import CHART_DIR, helm_path, template
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.admission import server as admission
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.kube import Kube, make_api_client
from kubetune.operator.settings import Settings
from kubetune.operator.validation import check_served_model, validate_training
from kubetune.testing.certificates import ServerCertificate, issue

pytestmark = pytest.mark.integration
G, V = "kubetune.io", "v1alpha1"
DENIED = 'admission webhook "trainings.validate.kubetune.io" denied the request: '


def webhook_settings(control_plane: ControlPlane, artifacts: Path, **overrides: Any) -> Settings:
    """The operator's settings as the other operator tests have them (the store at ``artifacts``, no volume).
    (Not conftest's operator_settings: a module named conftest is ambiguous when several test folders run.)"""
    return Settings(kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, artifact_mount_path=str(artifacts),
                    leader_election=False, metrics_port=0, health_port=0, **overrides)


@pytest.fixture(scope="module")
def webhook(control_plane: ControlPlane, artifacts: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServerCertificate]]:
    cert = issue(tmp_path_factory.mktemp("webhook"))
    settings = webhook_settings(control_plane, artifacts, webhook_cert_file=str(cert.certfile),
                                webhook_key_file=str(cert.keyfile))
    with make_api_client(settings.kubeconfig) as api:
        server = admission.start(settings, Kube(api), host="127.0.0.1")
        try:
            yield f"https://127.0.0.1:{server.server_address[1]}", cert
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def registered(webhook: tuple[str, ServerCertificate], api_client: client.ApiClient,
               namespace: str) -> Iterator[dict[str, Any]]:
    """The chart's configuration, pointed at the local server and at this test's namespace only."""
    url, cert = webhook
    release = f"wh{uuid.uuid4().hex[:6]}"
    (config,) = [d for d in yaml.safe_load_all(template(release, "kubetune-system", helm=helm_path()))
                 if d and d["kind"] == "ValidatingWebhookConfiguration"]
    for hook in config["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        hook["clientConfig"] = {"url": url + path, "caBundle": base64.b64encode(cert.ca_pem).decode()}
        hook["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
        # Fail rather than the chart's Ignore: an admission here must be the webhook's answer, not its absence.
        hook["failurePolicy"] = "Fail"
    api = client.AdmissionregistrationV1Api(api_client)
    api.create_validating_webhook_configuration(config)
    try:
        yield config
    finally:
        api.delete_validating_webhook_configuration(config["metadata"]["name"])


def kubectl(cp: ControlPlane, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cp.bin_dir / "kubectl"), "--kubeconfig", str(cp.kubeconfig), *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def training(name: str, trainer: str, namespace: str, store: Path, **spec: Any) -> dict[str, Any]:
    body = {"trainerRef": trainer, "baseModel": "tiny",
            "dataset": {"uri": f"file://{store}/{namespace}/data/chat.jsonl", "format": "openai_chat_jsonl"},
            **spec}
    return {"apiVersion": f"{G}/{V}", "kind": "Training", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def test_kubectl_apply_is_refused_with_the_operators_message(
        registered: dict[str, Any], control_plane: ControlPlane, api_client: client.ApiClient,
        namespace: str, trainer: str, artifacts: Path) -> None:
    custom = client.CustomObjectsApi(api_client)
    trainer_spec = TrainerSpec.model_validate(custom.get_cluster_custom_object(G, V, "trainers", trainer)["spec"])

    def apply(body: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
        return kubectl(control_plane, "apply", "-f", "-", *flags, stdin=yaml.safe_dump(body))

    def operator_says(body: dict[str, Any]) -> str:
        problems = validate_training(TrainingSpec.model_validate(body["spec"]), trainer_spec)
        assert problems, body
        return "; ".join(problems)

    hot = training("hot", trainer, namespace, artifacts, hyperparameters={"learningRate": 0.5, "loraRank": 512})
    deadline = time.monotonic() + 30  # the API server loads webhook configurations through its informer
    while apply(hot, "--dry-run=server").returncode == 0:
        assert time.monotonic() < deadline, "the webhook was not called in time"
        time.sleep(0.2)

    full = training("full", trainer, namespace, artifacts, method="full", hyperparameters={})
    for body in (hot, full):
        done = apply(body)
        assert done.returncode != 0, done.stdout
        assert DENIED + operator_says(body) in done.stderr, done.stderr
    assert "learning_rate=0.5 is above the maximum 0.01; lora_rank=512 is above the maximum 64" in operator_says(hot)
    assert operator_says(full) == "method full is not supported by the Trainer (supported: lora)"
    names = {t["metadata"]["name"] for t in custom.list_namespaced_custom_object(G, V, namespace, "trainings")["items"]}
    assert names == set()  # nothing half-written

    # What fits, and what the operator would wait for (GitOps order), are applied.
    good = training("good", trainer, namespace, artifacts, hyperparameters={"learningRate": 5e-4, "loraRank": 8})
    early = training("early", "not-created-yet", namespace, artifacts, method="full")
    before_dataset = training("before-dataset", trainer, namespace, artifacts, dataset={"ref": {"name": "later"}})
    for body in (good, early, before_dataset):
        done = apply(body)
        assert done.returncode == 0 and "created" in done.stdout, done.stderr

    # A spec change is judged again; metadata writes are not (the chart's matchConditions and the webhook).
    refused = kubectl(control_plane, "-n", namespace, "patch", "training", "good", "--type=merge",
                      "-p", '{"spec": {"hyperparameters": {"loraRank": 100}}}')
    assert refused.returncode != 0
    assert DENIED + "lora_rank=100 is above the maximum 64" in refused.stderr, refused.stderr
    done = kubectl(control_plane, "-n", namespace, "label", "training", "early", "team=a")
    assert done.returncode == 0, done.stderr


def test_an_inference_service_outside_its_project_is_refused(
        registered: dict[str, Any], control_plane: ControlPlane, namespace: str, artifacts: Path) -> None:
    def isvc(name: str, **spec: Any) -> str:
        return yaml.safe_dump({"apiVersion": f"{G}/{V}", "kind": "InferenceService",
                               "metadata": {"name": name, "namespace": namespace}, "spec": spec})

    layout = webhook_settings(control_plane, artifacts).reference_layout()
    elsewhere = isvc("elsewhere", model={"baseModel": f"file://{artifacts}/another-project/model"})
    deadline = time.monotonic() + 30
    while kubectl(control_plane, "apply", "--dry-run=server", "-f", "-", stdin=elsewhere).returncode == 0:
        assert time.monotonic() < deadline, "the webhook was not called in time"
        time.sleep(0.2)
    done = kubectl(control_plane, "apply", "-f", "-", stdin=elsewhere)
    assert done.returncode != 0
    expected = check_served_model(ServedModel(f"file://{artifacts}/another-project/model"), namespace, layout)
    assert expected
    assert 'admission webhook "inferenceservices.validate.kubetune.io" denied the request: ' + "; ".join(
        expected) in done.stderr, done.stderr
    own = isvc("own", model={"baseModel": f"file://{artifacts}/{namespace}/model"})
    later = isvc("later", trainingRef={"name": "not-yet"})  # waits for its Training in the operator
    for text in (own, later):
        done = kubectl(control_plane, "apply", "-f", "-", stdin=text)
        assert done.returncode == 0, done.stderr


def test_the_charts_certificate_is_kept_when_the_release_is_rendered_again(
        control_plane: ControlPlane, api_client: client.ApiClient, namespace: str) -> None:
    """helm install/upgrade reads the Secret back (lookup): the CA, the certificate and the caBundle stay."""

    def render() -> list[dict[str, Any]]:
        done = subprocess.run([str(helm_path()), "template", "kt", str(CHART_DIR), "--namespace", namespace,
                               "--dry-run=server", "--kubeconfig", str(control_plane.kubeconfig),
                               "--show-only", "templates/operator/admission-webhook.yaml"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return [d for d in yaml.safe_load_all(done.stdout) if d]

    def parts(objects: list[dict[str, Any]]) -> tuple[dict[str, str], str]:
        secret = next(o for o in objects if o["kind"] == "Secret")
        config = next(o for o in objects if o["kind"] == "ValidatingWebhookConfiguration")
        return secret["data"], config["webhooks"][0]["clientConfig"]["caBundle"]

    first = render()
    data, bundle = parts(first)
    assert bundle == data["ca.crt"]
    assert parts(render()) != (data, bundle)  # nothing installed yet: a new pair each time
    secret = next(o for o in first if o["kind"] == "Secret")
    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(namespace, secret)
    assert parts(render()) == (data, bundle)  # installed: kept
    # Close to its end (fewer than 30 days left): made again on the next upgrade.
    soon = str(int(time.time()) + 86400)
    core.patch_namespaced_secret(secret["metadata"]["name"], namespace,
                                 {"metadata": {"annotations": {"kubetune.io/expires-unix": soon}}})
    renewed, renewed_bundle = parts(render())
    assert renewed["ca.crt"] != data["ca.crt"] and renewed_bundle == renewed["ca.crt"]

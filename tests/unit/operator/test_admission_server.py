"""The webhook's HTTPS server on 127.0.0.1: reviews over TLS, bad requests, a renewed certificate picked up."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kubetune.crd.trainer import TrainerSpec
from kubetune.operator.admission import server as admission
from kubetune.operator.settings import Settings
from kubetune.testing.certificates import ServerCertificate, issue

DATA = "file:///mnt/artifacts/team-a/chat.jsonl"
# A wire-format Training spec. (Not imported from conftest: ambiguous in a whole-suite run.)
TRAINING = {"trainerRef": "lora", "baseModel": "tiny-llama", "dataset": {"uri": DATA, "format": "openai_chat_jsonl"}}


def training_doc(**overrides: Any) -> dict[str, Any]:
    return {**TRAINING, **overrides}


@pytest.fixture
def served(tmp_path: Path, settings: Settings, trainer: TrainerSpec) -> Iterator[tuple[str, ServerCertificate]]:
    cert = issue(tmp_path)
    configured = settings.model_copy(update={"webhook_cert_file": str(cert.certfile),
                                             "webhook_key_file": str(cert.keyfile)})
    webhook = admission.start(configured, Trainers(trainer), host="127.0.0.1")
    try:
        yield f"https://127.0.0.1:{webhook.server_address[1]}", cert
    finally:
        webhook.shutdown()
        webhook.server_close()


class Trainers:
    """The API server as the webhook reads it: one Trainer, lora (the operator tests' conftest.py)."""

    def __init__(self, trainer: TrainerSpec) -> None:
        self.trainer = {"spec": trainer.model_dump(by_alias=True, exclude_none=True, mode="json")}

    def get(self, _version: str, kind: str, _namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.trainer if (kind, name) == ("Trainer", "lora") else None

    def list(self, _version: str, kind: str) -> list[dict[str, Any]]:
        return [self.trainer] if kind == "Trainer" else []


def post(url: str, ca: bytes, body: Any) -> tuple[int, dict[str, Any]]:
    context = ssl.create_default_context(cadata=ca.decode())
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def review_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-7", "kind": {"group": "kubetune.io", "version": "v1alpha1", "kind": "Training"},
        "operation": "CREATE", "namespace": "team-a",
        "object": {"metadata": {"name": "r", "namespace": "team-a"}, "spec": spec}}}


def test_a_review_over_tls(served: tuple[str, ServerCertificate]) -> None:
    url, cert = served
    code, body = post(url + admission.TRAININGS_PATH, cert.ca_pem, review_of(training_doc(
        method="full", hyperparameters={}, dataset={"uri": DATA, "format": "openai_chat_jsonl"})))
    assert code == 200
    assert body["response"] == {"uid": "u-7", "allowed": False, "status": {
        "code": 422, "reason": "Invalid",
        "message": "method full is not supported by the Trainer (supported: lora, qlora)"}}


def test_unknown_paths_and_bodies_are_client_errors(served: tuple[str, ServerCertificate]) -> None:
    url, cert = served
    assert post(url + "/validate/other", cert.ca_pem, {})[0] == 404
    assert post(url + admission.TRAININGS_PATH, cert.ca_pem, b"not json")[0] == 400
    assert post(url + admission.TRAININGS_PATH, cert.ca_pem, {"kind": "Pod"})[0] == 400


def test_a_renewed_certificate_is_served_without_a_restart(served: tuple[str, ServerCertificate],
                                                           tmp_path: Path) -> None:
    url, old = served
    renewed = issue(tmp_path / "new")
    renewed.certfile.replace(old.certfile)  # as a Secret volume swaps its files
    renewed.keyfile.replace(old.keyfile)
    assert post(url + admission.TRAININGS_PATH, renewed.ca_pem, review_of(training_doc()))[0] == 200
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        post(url + admission.TRAININGS_PATH, old.ca_pem, review_of(training_doc()))


def test_no_certificate_no_server(settings: Settings, tmp_path: Path, trainer: TrainerSpec) -> None:
    with pytest.raises(ValueError, match="webhook_cert_file"):
        admission.make_server(settings, Trainers(trainer), host="127.0.0.1")
    with pytest.raises(FileNotFoundError):
        admission.make_server(settings.model_copy(update={
            "webhook_cert_file": str(tmp_path / "no.crt"), "webhook_key_file": str(tmp_path / "no.key")}),
            Trainers(trainer), host="127.0.0.1")


def test_inference_services_have_their_own_route(served: tuple[str, ServerCertificate]) -> None:
    url, cert = served
    body = review_of({"model": {"baseModel": "file:///etc/models/x"}})
    body["request"]["kind"]["kind"] = "InferenceService"
    code, answer = post(url + admission.INFERENCE_SERVICES_PATH, cert.ca_pem, body)
    assert code == 200 and answer["response"]["allowed"] is False
    assert answer["response"]["status"]["message"].startswith("model.baseModel 'file:///etc/models/x'")
    # The same review on the Trainings route is not a Training's: admitted there.
    assert post(url + admission.TRAININGS_PATH, cert.ca_pem, body)[1]["response"]["allowed"] is True


def test_the_entrypoint_serves_it_before_winning_the_lease(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           settings: Settings, trainer: TrainerSpec) -> None:
    """Every replica answers the API server, the standbys too: the webhook starts before leader election."""
    from kubetune.operator import main

    cert = issue(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = settings.model_copy(update={
        "webhook_port": port, "webhook_address": "127.0.0.1", "webhook_cert_file": str(cert.certfile),
        "webhook_key_file": str(cert.keyfile), "metrics_port": 0, "memory_trim_seconds": 0,
        "leader_election": True})
    started: list[admission.WebhookServer] = []
    real_start = admission.start
    monkeypatch.setattr(admission, "start", lambda *args: started.append(real_start(*args)) or started[-1])
    monkeypatch.setattr(main, "configure_logging", lambda _settings: None)
    monkeypatch.setattr(main, "tune_gc", lambda: None)
    monkeypatch.setattr(main, "make_runtime", lambda s: SimpleNamespace(settings=s, kube=Trainers(trainer)))
    answers: list[tuple[int, dict[str, Any]]] = []

    class Standby:
        def __init__(self, *_: Any) -> None:
            pass

        def wait_for_leadership(self, _stop: Any) -> bool:
            body = review_of(training_doc(method="full", hyperparameters={},
                                          dataset={"uri": DATA, "format": "openai_chat_jsonl"}))
            answers.append(post(f"https://127.0.0.1:{port}{admission.TRAININGS_PATH}", cert.ca_pem, body))
            return False  # never the leader: run() returns without starting kopf

    monkeypatch.setattr(main, "LeaseElector", Standby)
    try:
        main.run(configured)
    finally:
        for server in started:
            server.shutdown()
            server.server_close()
    assert [code for code, _ in answers] == [200]
    assert answers[0][1]["response"]["status"]["message"] == (
        "method full is not supported by the Trainer (supported: lora, qlora)")

"""The webhook's verdict on an AdmissionReview: the operator's checks and words, what it waits for admitted."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.admission.review import review
from kubetune.operator.admission.serving import inference_service_problems
from kubetune.operator.settings import Settings
from kubetune.operator.validation import validate_training

DATA = "file:///mnt/artifacts/team-a/chat.jsonl"
# Wire-format specs. (Not imported from conftest: a module named conftest is ambiguous in a whole-suite run.)
TRAINING = {"trainerRef": "lora", "task": "causal-lm", "method": "lora", "baseModel": "tiny-llama",
            "dataset": {"uri": DATA, "format": "openai_chat_jsonl"},
            "hyperparameters": {"learningRate": 5e-4, "loraRank": 8}}


def training_doc(**overrides: Any) -> dict[str, Any]:
    return {**TRAINING, **overrides}


class Cluster:
    """What the webhook may read: Trainers and Datasets by name."""

    def __init__(self, **objects: dict[str, Any]) -> None:
        self.objects = objects
        self.reads: list[tuple[str, str | None, str]] = []

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        assert api_version == "kubetune.io/v1alpha1"
        self.reads.append((kind, namespace, name))
        return self.objects.get(f"{kind}/{name}")

    def list(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        assert api_version == "kubetune.io/v1alpha1"
        return [o for key, o in self.objects.items() if key.startswith(f"{kind}/")]


def request(spec: dict[str, Any], operation: str = "CREATE", old: dict[str, Any] | None = None,
            labels: dict[str, str] | None = None) -> dict[str, Any]:
    obj = {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training",
           "metadata": {"name": "run", "namespace": "team-a", "labels": labels or {}}, "spec": spec}
    req: dict[str, Any] = {"uid": "u-1", "kind": {"group": "kubetune.io", "version": "v1alpha1", "kind": "Training"},
                           "operation": operation, "namespace": "team-a", "object": obj}
    if old is not None:
        req["oldObject"] = {**obj, "spec": old}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


@pytest.fixture
def cluster(trainer: TrainerSpec) -> Cluster:
    """The operator tests' Trainer (conftest.py) as the API server would return it."""
    return Cluster(**{"Trainer/lora": {"spec": trainer.model_dump(by_alias=True, exclude_none=True, mode="json")}})


def answer(body: dict[str, Any], cluster: Cluster, settings: Settings) -> dict[str, Any]:
    out = review(body, cluster, settings)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == "u-1"
    return dict(out["response"])


def test_a_training_that_fits_its_trainer_is_admitted(cluster: Cluster, settings: Settings) -> None:
    assert answer(request(training_doc(dataset={"uri": DATA, "format": "openai_chat_jsonl"})),
                  cluster, settings) == {"uid": "u-1", "allowed": True}


def test_a_refusal_carries_the_operators_message_word_for_word(cluster: Cluster, settings: Settings,
                                                               trainer: TrainerSpec) -> None:
    spec = training_doc(method="full", dataset={"uri": DATA, "format": "openai_chat_jsonl"},
                        hyperparameters={"learningRate": 0.5, "loraRank": 8})
    got = answer(request(spec), cluster, settings)
    expected = validate_training(TrainingSpec.model_validate(spec), trainer)
    assert len(expected) >= 2
    assert got["allowed"] is False
    assert got["status"] == {"code": 422, "reason": "Invalid", "message": "; ".join(expected)}
    assert "method full is not supported by the Trainer (supported: lora, qlora)" in got["status"]["message"]
    assert "learning_rate=0.5 is above the maximum 0.01" in got["status"]["message"]


def test_references_are_judged_first_as_the_operator_does(cluster: Cluster, settings: Settings) -> None:
    spec = training_doc(method="full", dataset={"uri": "file:///etc/passwd", "format": "openai_chat_jsonl"})
    message = answer(request(spec), cluster, settings)["status"]["message"]
    assert "dataset.uri" in message and "method full" not in message


def test_what_the_operator_waits_for_is_admitted(cluster: Cluster, settings: Settings) -> None:
    # No Trainer yet (GitOps order): the operator waits with TrainerNotFound.
    assert answer(request(training_doc(trainerRef="later", method="full")), cluster, settings)["allowed"]
    # A Dataset not created, or not validated yet: its checks wait, the rest is judged.
    by_ref = training_doc(dataset={"ref": {"name": "chat"}})
    assert answer(request(by_ref), cluster, settings)["allowed"]
    cluster.objects["Dataset/chat"] = {"spec": {"uri": DATA, "format": "alpaca"}, "status": {"phase": "Validating"}}
    assert answer(request(by_ref), cluster, settings)["allowed"]
    assert ("Dataset", "team-a", "chat") in cluster.reads
    refused = answer(request({**by_ref, "method": "full", "hyperparameters": {}}), cluster, settings)
    assert refused["status"]["message"] == "method full is not supported by the Trainer (supported: lora, qlora)"


def test_a_validated_dataset_is_judged_with_the_training(cluster: Cluster, settings: Settings) -> None:
    cluster.objects["Dataset/pairs"] = {"spec": {"uri": DATA, "format": "preference"}, "status": {"phase": "Ready"}}
    got = answer(request(training_doc(dataset={"ref": {"name": "pairs"}})), cluster, settings)
    assert got["status"]["message"] == "dataset format preference holds preference pairs: use objective dpo"


def test_a_queue_without_the_kueue_integration_is_refused(cluster: Cluster, settings: Settings) -> None:
    spec = training_doc(dataset={"uri": DATA, "format": "openai_chat_jsonl"})
    got = answer(request(spec, labels={"kueue.x-k8s.io/queue-name": "team"}), cluster, settings)
    assert "needs the operator's Kueue integration" in got["status"]["message"]
    assert answer(request(spec, labels={"kueue.x-k8s.io/queue-name": "team"}), cluster,
                  settings.model_copy(update={"kueue_enabled": True}))["allowed"]


def test_only_spec_changes_are_judged(cluster: Cluster, settings: Settings) -> None:
    bad = training_doc(method="full")
    # Metadata writes (finalizers, labels) on a Training the Trainer no longer fits: never blocked.
    assert answer(request(bad, "UPDATE", old=bad), cluster, settings) == {"uid": "u-1", "allowed": True}
    assert cluster.reads == []
    assert not answer(request(bad, "UPDATE", old=training_doc()), cluster, settings)["allowed"]


def test_a_failed_lookup_admits_with_a_warning(settings: Settings) -> None:
    class Away(Cluster):
        def get(self, *_: Any) -> dict[str, Any] | None:
            raise ConnectionError("api server away")

    got = review(request(training_doc(method="full")), Away(), settings)["response"]
    assert got["allowed"] is True and "could not run" in got["warnings"][0]


def test_a_body_that_is_not_a_review_is_an_error(cluster: Cluster, settings: Settings) -> None:
    for body in ({}, {"kind": "AdmissionReview"}, {"kind": "AdmissionReview", "request": {"uid": ""}}):
        with pytest.raises(ValueError):
            review(body, cluster, settings)


def test_a_spec_the_model_refuses_is_refused_as_the_operator_would(cluster: Cluster, settings: Settings) -> None:
    got = answer(request(training_doc(hyperparameters={"loraRank": "many"})), cluster, settings)
    assert got["status"]["message"].startswith("invalid spec: ")


def isvc_request(spec: dict[str, Any]) -> dict[str, Any]:
    body = request(spec)
    body["request"]["kind"]["kind"] = "InferenceService"
    body["request"]["object"]["kind"] = "InferenceService"
    return body


def judge_isvc(body: dict[str, Any], cluster: Cluster, settings: Settings) -> dict[str, Any]:
    return dict(review(body, cluster, settings, "InferenceService", inference_service_problems)["response"])


def test_an_inference_service_is_judged_by_the_operators_resolver(cluster: Cluster, settings: Settings) -> None:
    outside = {"model": {"baseModel": "file:///etc/models/x",
                         "adapters": [{"name": "a", "uri": "file:///mnt/artifacts/team-b/a"}]}}
    got = judge_isvc(isvc_request(outside), cluster, settings)
    message = got["status"]["message"]
    assert "model.baseModel 'file:///etc/models/x'" in message
    assert "adapter a 'file:///mnt/artifacts/team-b/a'" in message
    # The admin's catalog (every Trainer's) may be served from any project; the project's own store too.
    catalog = {"model": {"baseModel": "file:///models/tiny-llama",
                         "adapters": [{"name": "a", "uri": "file:///mnt/artifacts/team-a/a"}]}}
    assert judge_isvc(isvc_request(catalog), cluster, settings)["allowed"]
    # A Training's output waits for it in the operator: admitted.
    assert judge_isvc(isvc_request({"trainingRef": {"name": "run"}}), cluster, settings)["allowed"]
    assert judge_isvc(isvc_request({"model": {"baseModel": "training://run"}}), cluster, settings)["allowed"]
    # A Training review on the InferenceService route (or the other way) is not this webhook's to judge.
    assert judge_isvc(request(training_doc(method="full")), cluster, settings)["allowed"]

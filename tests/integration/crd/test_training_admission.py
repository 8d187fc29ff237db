"""`kubectl apply` of a Training its Trainer cannot run is refused by the API server, in the operator's words.

The chart's training-fit ValidatingAdmissionPolicy (the Trainer as its parameter) is rendered with helm and
applied to the real control plane; each refusal is compared with what the operator's validation says.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kube_waits import create_namespace, wait_for
from kubernetes import client
from kubernetes.client import ApiException

from kubetune.chart.helm import helm_path, template
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.validation import validate_training

pytestmark = pytest.mark.integration
G, V = "kubetune.io", "v1alpha1"


def _refusal(call: Callable[[], Any]) -> ApiException | None:
    try:
        call()
    except ApiException as exc:
        return exc
    return None


@pytest.fixture(scope="module")
def fit(api_client: client.ApiClient) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:6]
    release = f"fit{tag}"
    admission = client.AdmissionregistrationV1Api(api_client)
    docs = [d for d in yaml.safe_load_all(template(release, "kubetune-system", helm=helm_path())) if d
            and d["metadata"]["name"] == f"{release}-kubetune-training-fit"]
    assert [d["kind"] for d in docs] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    policy, binding = docs
    admission.create_validating_admission_policy(policy)
    admission.create_validating_admission_policy_binding(binding)
    name = policy["metadata"]["name"]
    checked = wait_for(admission.list_validating_admission_policy,
                       lambda o: (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"],
                       field_selector=f"metadata.name={name}")
    # The API server type-checked every expression against the Trainer and Training schemas.
    assert not (checked["status"].get("typeChecking") or {}).get("expressionWarnings"), checked["status"]
    custom = client.CustomObjectsApi(api_client)
    trainer = f"fit-{tag}"
    custom.create_cluster_custom_object(G, V, "trainers", {
        "apiVersion": f"{G}/{V}", "kind": "Trainer", "metadata": {"name": trainer},
        "spec": {"image": "kubetune/runtime:dev", "tasks": ["causal-lm"], "methods": ["lora", "qlora"],
                 "models": [{"id": "tiny", "name": "Tiny", "uri": "file:///models/tiny"},
                            {"id": "cls", "name": "Cls", "uri": "file:///models/cls",
                             "task": "sequence-classification"}]}})
    namespace = create_namespace(api_client, "fit")
    try:
        yield {"trainer": trainer, "namespace": namespace}
    finally:
        admission.delete_validating_admission_policy_binding(binding["metadata"]["name"])
        admission.delete_validating_admission_policy(name)
        custom.delete_cluster_custom_object(G, V, "trainers", trainer)
        client.CoreV1Api(api_client).delete_namespace(namespace)


def _training(name: str, trainer: str, **spec: Any) -> dict[str, Any]:
    body = {"trainerRef": trainer, "baseModel": "tiny",
            "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"}, **spec}
    return {"apiVersion": f"{G}/{V}", "kind": "Training", "metadata": {"name": name}, "spec": body}


def _operator_says(trainer: dict[str, Any], training: dict[str, Any]) -> list[str]:
    """What the operator would say about the fit the policy judges (task, method, catalog model)."""
    problems = validate_training(TrainingSpec.model_validate(training["spec"]),
                                 TrainerSpec.model_validate(trainer["spec"]))
    return [p for p in problems if p.startswith(("task ", "method ", "base model "))]


def test_a_training_its_trainer_cannot_run_is_refused_with_the_operators_words(
        fit: dict[str, str], api_client: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api_client)
    ns, trainer_name = fit["namespace"], fit["trainer"]
    trainer = custom.get_cluster_custom_object(G, V, "trainers", trainer_name)

    def create(body: dict[str, Any], dry: bool = True) -> Any:
        return custom.create_namespaced_custom_object(G, V, ns, "trainings", body,
                                                      dry_run="All" if dry else None)

    full = _training("full", trainer_name, method="full")
    deadline = time.monotonic() + 30  # the admission plugin loads policies through its own informer
    while _refusal(lambda: create(full)) is None:
        assert time.monotonic() < deadline, "the policy was not enforced in time"
        time.sleep(0.2)

    bad = {
        "full": full,
        "classifier": _training("classifier", trainer_name, task="sequence-classification", baseModel="cls",
                                dataset={"uri": "file:///data/labels.jsonl", "format": "text_classification"}),
        "unknown-model": _training("unknown-model", trainer_name, baseModel="nope"),
        "wrong-task-model": _training("wrong-task-model", trainer_name, baseModel="cls"),
    }
    for name, body in bad.items():
        refused = _refusal(lambda body=body: create(body))
        assert refused is not None and refused.status == 422, (name, refused)
        expected = _operator_says(trainer, body)
        assert expected, name
        for problem in expected:  # the operator's own message, word for word
            assert problem in (refused.body or ""), (name, problem, refused.body)

    # What the Trainer can run, a uri base model, and a Trainer that does not exist yet (GitOps order).
    create(_training("ok", trainer_name), dry=False)
    create(_training("by-uri", trainer_name, baseModel="hf://org/model", method="qlora"))
    create(_training("later", "not-created-yet", method="full"))

    # The Trainer changes under a Training: its metadata stays writable (finalizers, labels) ...
    custom.patch_cluster_custom_object(G, V, "trainers", trainer_name, {"spec": {"methods": ["qlora"]}})
    deadline = time.monotonic() + 30
    while _refusal(lambda: custom.patch_namespaced_custom_object(
            G, V, ns, "trainings", "ok", {"spec": {"description": "x"}}, dry_run="All")) is None:
        assert time.monotonic() < deadline, "the changed Trainer was not seen in time"
        time.sleep(0.2)
    custom.patch_namespaced_custom_object(G, V, ns, "trainings", "ok", {"metadata": {"labels": {"team": "a"}}})
    # ... while a spec change is judged against the Trainer as it is now.
    refused = _refusal(lambda: custom.patch_namespaced_custom_object(
        G, V, ns, "trainings", "ok", {"spec": {"description": "y"}}))
    assert refused is not None and "method lora is not supported by the Trainer (supported: qlora)" in (
        refused.body or "")

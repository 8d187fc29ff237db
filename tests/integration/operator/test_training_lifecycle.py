"""Training -> Job on the real control plane, pods on the local node, operator in-process."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from kubernetes import client
from operator_waits import Obj, Resources, condition, wait_event, wait_for, wait_gone

from kubetune.crd import GROUP, VERSION
from kubetune.operator.inprocess import OperatorThread


def test_training_runs_to_success_with_least_privilege_children(
    operator: OperatorThread,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    make_training("ok", behaviour="report", hyperparameters={"learningRate": 1e-3, "extra": {"behaviour": "report"}})
    done = resources.wait_phase("trainings", namespace, "ok", "Succeeded", "Failed")
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["jobName"] == "ok-train"
    assert status["attempts"] == 1
    assert status["startTime"] and status["completionTime"]
    assert status["metrics"]["eval_loss"] > 0  # written by the pod with its own service account
    assert condition(done, "Succeeded")["status"] == "True"
    uid = done["metadata"]["uid"]

    core, rbac, batch = (
        client.CoreV1Api(api_client),
        client.RbacAuthorizationV1Api(api_client),
        client.BatchV1Api(api_client),
    )
    job = batch.read_namespaced_job("ok-train", namespace)
    role = rbac.read_namespaced_role("ok-trainer", namespace)
    children = [
        job,
        core.read_namespaced_service_account("ok-trainer", namespace),
        role,
        rbac.read_namespaced_role_binding("ok-trainer", namespace),
        core.read_namespaced_config_map("ok-run", namespace),
    ]
    for child in children:
        assert [r.uid for r in child.metadata.owner_references] == [uid]
    own = [rule for rule in role.rules if rule.api_groups == ["kubetune.io"]]
    assert own and all(rule.resource_names == ["ok"] for rule in own)
    # The only other grant: posting Events (create cannot be limited by name).
    assert [(r.api_groups, r.resources, r.verbs) for r in role.rules if r not in own] == [
        ([""], ["events"], ["create"])]
    assert job.spec.template.spec.service_account_name == "ok-trainer"
    config = json.loads(core.read_namespaced_config_map("ok-run", namespace).data["run.json"])
    assert config["hyperparameters"]["learningRate"] == 1e-3
    assert config["baseModel"] == "file:///models/tiny"

    wait_event(core, namespace, "ok", "Succeeded")
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=ok").items
    assert {"Queued", "Started", "Succeeded"} <= {e.reason for e in events}


def test_non_zero_exit_fails_with_exit_code_and_termination_message(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    make_training("boom", behaviour="fail", extra={"exit_code": 7})
    failed = resources.wait_phase("trainings", namespace, "boom", "Failed", "Succeeded")
    status = failed["status"]
    assert status["phase"] == "Failed"
    assert "exited with code 7" in status["message"]
    assert "loss is NaN at step 3" in status["message"]
    cond = condition(failed, "Failed")
    assert cond["status"] == "True" and cond["reason"] == "ExitCode"


def test_running_out_of_memory_fails_as_oomkilled(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    make_training("hungry", behaviour="oom", resources={"memory": "96Mi"}, backoffLimit=0)
    failed = resources.wait_phase("trainings", namespace, "hungry", "Failed", "Succeeded")
    assert failed["status"]["phase"] == "Failed"
    assert "out of memory (OOMKilled, exit code 137)" in failed["status"]["message"]
    assert condition(failed, "Failed")["reason"] == "OOMKilled"


def test_an_image_that_cannot_be_pulled_fails_and_frees_the_job(
    operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
    make_trainer: Callable[..., str], store_root: str
) -> None:
    trainer = make_trainer(image="registry.invalid/kubetune/runtime:1")
    resources.create("trainings", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": "nopull"},
        "spec": {"trainerRef": trainer, "baseModel": "tiny",
                 "dataset": {"uri": f"file://{store_root}/{namespace}/data/chat.jsonl",
                             "format": "openai_chat_jsonl"}}})
    failed = resources.wait_phase("trainings", namespace, "nopull", "Failed", "Succeeded")
    assert failed["status"]["phase"] == "Failed"
    assert "cannot pull the trainer image (ImagePullBackOff)" in failed["status"]["message"]
    assert condition(failed, "Failed")["reason"] == "ImagePullError"
    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    # Suspended right after the status says Failed, so the waiting pod (and any GPU it holds) goes away.
    wait_for(batch.list_namespaced_job, lambda job: job["spec"].get("suspend") is True, namespace,
             field_selector="metadata.name=nopull-train")
    for pod in core.list_namespaced_pod(namespace, label_selector="kubetune.io/training=nopull").items:
        wait_gone(core.list_namespaced_pod, pod.metadata.name, namespace)


def test_gpu_request_beyond_the_cluster_is_queued_waiting_for_gpus(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    make_training("greedy", behaviour="sleep", resources={"gpus": 4})
    queued = resources.wait(
        "trainings",
        namespace,
        "greedy",
        lambda o: (o.get("status") or {}).get("message", "").startswith("waiting for GPUs"),
    )
    assert queued["status"]["phase"] == "Queued"
    assert "nvidia.com/gpu" in queued["status"]["message"]
    assert condition(queued, "Queued")["reason"] == "WaitingForGPUs"


def test_suspend_stops_and_resume_runs_again(
    operator: OperatorThread,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    make_training("pausable", behaviour="sleep")
    resources.wait_phase("trainings", namespace, "pausable", "Running")
    with pytest.raises(client.ApiException) as refused:  # started: hyperparameters are immutable
        resources.patch("trainings", namespace, "pausable", {"spec": {"hyperparameters": {"learningRate": 1e-3}}})
    assert refused.value.status == 422 and "immutable once the training has started" in refused.value.body
    resources.patch("trainings", namespace, "pausable", {"spec": {"suspend": True}})
    stopped = resources.wait_phase("trainings", namespace, "pausable", "Stopped")
    assert "checkpoints are kept" in stopped["status"]["message"]
    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    assert batch.read_namespaced_job("pausable-train", namespace).spec.suspend is True
    assert [
        p
        for p in core.list_namespaced_pod(namespace, label_selector="kubetune.io/training=pausable").items
        if p.status.phase in ("Pending", "Running")
    ] == []

    def run_config() -> dict[str, object]:
        data = core.read_namespaced_config_map("pausable-run", namespace).data
        return json.loads(data["run.json"])  # type: ignore[no-any-return]

    assert run_config()["resume"] == "latest"
    # Resuming from a chosen checkpoint: the resumed pod must read it from the rewritten run config.
    resources.patch("trainings", namespace, "pausable", {"spec": {"suspend": False, "resumeFrom": {"step": 5}}})
    running = resources.wait_phase("trainings", namespace, "pausable", "Running")
    assert run_config()["resume"] == 5
    assert running["status"]["attempts"] >= 1
    wait_event(core, namespace, "pausable", "Stopped")
    wait_event(core, namespace, "pausable", "Stopping")


def test_bad_spec_fails_with_reason_event_and_no_job(
    operator: OperatorThread,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    make_training("bad", hyperparameters={"learningRate": 0.5, "extra": {"mystery": 1}}, baseModel="gpt-9")
    failed = resources.wait_phase("trainings", namespace, "bad", "Failed")
    message = failed["status"]["message"]
    assert "learning_rate=0.5 is above the maximum" in message
    assert "hyperparameter mystery is not defined" in message
    assert "gpt-9 is not in the Trainer's catalog" in message
    assert condition(failed, "Failed")["reason"] == "ValidationFailed"
    core = client.CoreV1Api(api_client)
    event = wait_event(core, namespace, "bad", "Failed", "Warning")
    assert "learning_rate=0.5" in event["message"]
    assert client.BatchV1Api(api_client).list_namespaced_job(namespace).items == []


def test_a_corrected_spec_is_validated_again(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    make_training("fixable", baseModel="gpt-9")
    resources.wait_phase("trainings", namespace, "fixable", "Failed")
    resources.patch("trainings", namespace, "fixable", {"spec": {"baseModel": "tiny"}})
    done = resources.wait_phase("trainings", namespace, "fixable", "Succeeded")
    assert done["status"]["jobName"] == "fixable-train"


def test_a_training_waits_for_its_trainer_and_kopf_keeps_its_records_in_status(
    operator: OperatorThread,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    trainer: str,
    make_training: Callable[..., Obj],
) -> None:
    late = f"late-{uuid.uuid4().hex[:8]}"
    make_training("early", trainerRef=late)
    pending = resources.wait("trainings", namespace, "early",
                             lambda o: condition(o, "Pending").get("reason") == "TrainerNotFound")
    assert pending["status"]["phase"] == "Pending"
    # kopf's retry of the handler is recorded beside our status, not in annotations.
    assert "training_reconcile" in pending["status"]["kopf"]["progress"]
    assert not [k for k in pending["metadata"].get("annotations") or {} if k.startswith("operator.kubetune.io/")]
    assert client.BatchV1Api(api_client).list_namespaced_job(namespace).items == []

    spec = resources.custom.get_cluster_custom_object(GROUP, VERSION, "trainers", trainer)["spec"]
    resources.create("trainers", None, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Trainer",
                                        "metadata": {"name": late}, "spec": spec})
    try:
        done = resources.wait_phase("trainings", namespace, "early", "Succeeded", "Failed")  # kopf's retry
        assert done["status"]["phase"] == "Succeeded", done["status"]
        record = json.loads(done["status"]["kopf"]["last-handled-configuration"])
        assert record["spec"]["trainerRef"] == late
        assert not done["status"]["kopf"].get("progress")  # the handler succeeded: no retry state left
    finally:
        resources.custom.delete_cluster_custom_object(GROUP, VERSION, "trainers", late)


def test_deleting_a_training_cascades_to_its_children(
    operator: OperatorThread,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    make_training("doomed", behaviour="sleep")
    resources.wait_phase("trainings", namespace, "doomed", "Running")
    resources.delete("trainings", namespace, "doomed", propagation_policy="Foreground")
    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    wait_gone(batch.list_namespaced_job, "doomed-train", namespace)
    wait_gone(core.list_namespaced_service_account, "doomed-trainer", namespace)
    wait_gone(rbac.list_namespaced_role, "doomed-trainer", namespace)
    wait_gone(core.list_namespaced_config_map, "doomed-run", namespace)
    pods = core.list_namespaced_pod(namespace, label_selector="kubetune.io/training=doomed").items
    assert all(p.metadata.deletion_timestamp for p in pods)

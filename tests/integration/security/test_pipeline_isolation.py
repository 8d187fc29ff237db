"""Data isolation through the pipeline: an attacker in one project cannot make the platform read, publish,
train on or serve another project's files, and deleting a project or a Training removes its artifacts.

Two projects, alice (the attacker) and bob (the victim), on the real control plane with the operator
in-process. Through kubectl (an admin client writing Trainings, Datasets and InferenceServices into
alice's namespace, as anyone with edit rights there could) every reference out of alice's project is a
Failed/Invalid object with reason InvalidReference before any Job or Deployment exists, and no hash,
size or row count of any file is published. Bob's files are untouched. The REST side of the same cases
is in test_pipeline_rest_refusals.py.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from operator_waits import Obj, Resources, condition, wait_for, wait_gone

from kubetune.crd import labels as lbl
from kubetune.localdev.controlplane import ControlPlane
from kubetune.operator.cleanup import PROJECT_FINALIZER, TRAINING_FINALIZER
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings

pytestmark = pytest.mark.integration

ROW = '{"messages": [{"role": "user", "content": "secret question"}, {"role": "assistant", "content": "a"}]}\n'


@dataclass
class Platform:
    store: Path
    alice: str
    bob: str
    trainer: str
    bob_files: dict[Path, tuple[str, int]]  # path -> (sha256, mtime_ns) before the attacks


def _project_namespace(core: client.CoreV1Api, name: str) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={lbl.PROJECT: name})))


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture(scope="module")
def platform(control_plane: ControlPlane, api_client: client.ApiClient,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    store = tmp_path_factory.mktemp("store")
    tag = uuid.uuid4().hex[:6]
    alice, bob, trainer = f"alice-{tag}", f"bob-{tag}", f"iso-{tag}"
    core = client.CoreV1Api(api_client)
    for name in (alice, bob):
        _project_namespace(core, name)
    bob_files = {}
    for relative in ("datasets/d1/chat.jsonl", "trainings/t/adapter/adapter_config.json"):
        path = store / bob / relative
        path.parent.mkdir(parents=True)
        path.write_text(ROW * 3)
        bob_files[path] = _fingerprint(path)
    Resources(api_client).create("trainers", None, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": trainer},
        "spec": {"image": "kubetune/runtime:test", "command": ["kubetune-train"], "tasks": ["causal-lm"],
                 "methods": ["lora"], "models": [{"id": "tiny", "name": "Tiny", "uri": "hf://tiny/model"}],
                 "resources": {"gpus": 0}}})
    settings = Settings(kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None,
                        artifact_mount_path=str(store), namespaces=[alice, bob], leader_election=False,
                        metrics_port=0, health_port=0, log_format="text", workers=4,
                        object_store_root="s3://kubetune-store/projects")
    with OperatorThread(settings):
        yield Platform(store, alice, bob, trainer, bob_files)
        for name in (alice, bob):  # while the operator runs: its finalizer must come off
            core.delete_namespace(name)
        for name in (alice, bob):
            wait_gone(core.list_namespace, name)
    Resources(api_client).custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", trainer)


def _training(p: Platform, name: str, **spec: object) -> Obj:
    body: Obj = {"trainerRef": p.trainer, "baseModel": "tiny",
                 "dataset": {"uri": f"file://{p.store}/{p.alice}/datasets/mine.jsonl", "format": "openai_chat_jsonl"}}
    body.update(spec)
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name}, "spec": body}


def _jobs(api_client: client.ApiClient, namespace: str, training: str) -> list[object]:
    batch = client.BatchV1Api(api_client)
    return list(batch.list_namespaced_job(namespace, label_selector=f"{lbl.TRAINING}={training}").items)


def _attacks(p: Platform) -> dict[str, dict[str, object]]:
    s, bob, alice = p.store, p.bob, p.alice
    theirs = f"file://{s}/{bob}/trainings/t/adapter"
    data = {"uri": f"file://{s}/{alice}/datasets/mine.jsonl", "format": "openai_chat_jsonl"}
    return {
        "base-other-adapter": {"baseModel": theirs},
        "base-traversal": {"baseModel": f"file://{s}/{alice}/../{bob}/trainings/t/adapter"},
        "base-encoded-dots": {"baseModel": f"file://{s}/{alice}/%2e%2e/{bob}/trainings/t/adapter"},
        "base-unicode-slash": {"baseModel": f"file://{s}/{alice}/\u2024\u2024\u2215{bob}"},
        "base-pvc-absolute": {"baseModel": "pvc://x//etc/passwd"},
        "base-pvc-dotdot": {"baseModel": "pvc://../x"},
        "base-host-file": {"baseModel": "file:///etc/passwd"},
        "base-s3-other-bucket": {"baseModel": f"s3://other-bucket/projects/{alice}/m"},
        "base-s3-other-prefix": {"baseModel": f"s3://kubetune-store/projects/{bob}/m"},
        "data-other-project": {"dataset": {"uri": f"file://{s}/{bob}/datasets/d1/chat.jsonl",
                                           "format": "openai_chat_jsonl"}},
        "split-traversal": {"dataset": {**data, "trainSplit": f"../../{bob}/datasets/d1/chat"}},
        "split-absolute": {"dataset": {**data, "validationSplit": "/etc/passwd"}},
        "output-other-project": {"output": f"file://{s}/{bob}/trainings/t"},
    }


def test_trainings_reaching_outside_their_project_fail_before_any_job(
        platform: Platform, api_client: client.ApiClient) -> None:
    resources = Resources(api_client)
    attacks = _attacks(platform)
    for name, spec in attacks.items():
        resources.create("trainings", platform.alice, _training(platform, name, **spec))
    for name in attacks:
        # Settled: Failed, or (what must not happen) a Job made for it.
        failed = resources.wait("trainings", platform.alice, name, lambda o: (o.get("status") or {}).get(
            "phase") == "Failed" or bool((o.get("status") or {}).get("jobName")))
        assert failed["status"]["phase"] == "Failed", (name, failed["status"])
        assert condition(failed, "Failed")["reason"] == "InvalidReference", (name, failed["status"])
        field = {"base": "baseModel", "data": "dataset.uri", "output": "output"}.get(name.split("-")[0])
        field = field or ("dataset.trainSplit" if name == "split-traversal" else "dataset.validationSplit")
        assert failed["status"]["message"].startswith(field), (name, failed["status"]["message"])
        assert _jobs(api_client, platform.alice, name) == [], name
    for path, before in platform.bob_files.items():
        assert _fingerprint(path) == before


def test_a_reference_inside_the_project_is_not_refused(platform: Platform, api_client: client.ApiClient) -> None:
    """The control: the same shapes, pointing into alice's own prefix, get a Job (so the refusals above
    are about where the references lead, not about their form)."""
    resources = Resources(api_client)
    (platform.store / platform.alice / "datasets").mkdir(parents=True, exist_ok=True)
    (platform.store / platform.alice / "datasets" / "mine.jsonl").write_text(ROW * 3)
    resources.create("trainings", platform.alice, _training(
        platform, "own", baseModel=f"file://{platform.store}/{platform.alice}/trainings/t/adapter",
        output=f"file://{platform.store}/{platform.alice}/out/own"))
    wait_for(client.BatchV1Api(api_client).list_namespaced_job, lambda job: True, platform.alice,
             label_selector=f"{lbl.TRAINING}=own")
    got = resources.get("trainings", platform.alice, "own")
    assert condition(got, "Failed").get("reason") != "InvalidReference"


def test_datasets_outside_their_project_are_never_read(platform: Platform, api_client: client.ApiClient) -> None:
    resources = Resources(api_client)
    mine = platform.store / platform.alice / "datasets"
    mine.mkdir(parents=True, exist_ok=True)
    link = mine / "link.jsonl"
    os.symlink(platform.store / platform.bob / "datasets" / "d1" / "chat.jsonl", link)
    (mine / "a-directory").mkdir()
    uris = {
        "other-project": f"file://{platform.store}/{platform.bob}/datasets/d1/chat.jsonl",
        "host-file": "file:///etc/passwd",
        "missing-host-file": "file:///no/such/file.jsonl",
        "symlink-out": f"file://{link}",
        "directory": f"file://{mine}/a-directory",
    }
    for name, uri in uris.items():
        resources.create("datasets", platform.alice, {
            "apiVersion": "kubetune.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name},
            "spec": {"uri": uri, "format": "openai_chat_jsonl"}})
    for name in uris:
        status = resources.wait_phase("datasets", platform.alice, name, "Invalid", "Ready")["status"]
        assert status["phase"] == "Invalid", (name, status)
        assert condition({"status": status}, "Ready")["reason"] == "InvalidReference", (name, status)
        # No oracle: an existing and a missing host file read the same, and nothing about either is published.
        assert not {"sha256", "sizeBytes", "rowCount"} & {k for k, v in status.items() if v}, (name, status)
    messages = {name: resources.get("datasets", platform.alice, name)["status"]["message"] for name in uris}
    assert messages["host-file"].replace("/etc/passwd", "X") == messages["missing-host-file"].replace(
        "/no/such/file.jsonl", "X")
    for path, before in platform.bob_files.items():
        assert _fingerprint(path) == before


def test_an_inference_service_cannot_serve_another_projects_adapter(
        platform: Platform, api_client: client.ApiClient) -> None:
    resources = Resources(api_client)
    resources.create("inferenceservices", platform.alice, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "stolen"},
        "spec": {"model": {"baseModel": "hf://tiny/model", "adapters": [
            {"name": "theirs", "uri": f"file://{platform.store}/{platform.bob}/trainings/t/adapter"}]}}})
    failed = resources.wait_phase("inferenceservices", platform.alice, "stolen", "Failed", "Ready", "Loading")
    assert failed["status"]["phase"] == "Failed"
    assert condition(failed, "Failed")["reason"] == "InvalidReference"
    try:
        client.AppsV1Api(api_client).read_namespaced_deployment(lbl.server_deployment_name("stolen"), platform.alice)
        raise AssertionError("a Deployment was created for a refused model")
    except ApiException as exc:
        assert exc.status == 404


def test_a_training_with_artifact_policy_delete_takes_its_artifacts_along(
        platform: Platform, api_client: client.ApiClient) -> None:
    resources = Resources(api_client)
    runs = {}
    for name, policy in (("keeps", "Keep"), ("deletes", "Delete")):
        runs[name] = platform.store / platform.alice / "trainings" / name
        (runs[name] / "adapter").mkdir(parents=True)
        (runs[name] / "adapter" / "adapter_model.bin").write_bytes(b"weights")
        os.symlink(platform.store / platform.bob, runs[name] / "link-to-bob")  # removing must not follow it
        # The output named: with an object store configured and no artifact claim, the default output is the
        # bucket's prefix (settings.default_output), and this test is about the file store.
        resources.create("trainings", platform.alice, _training(platform, name, artifactPolicy=policy,
                                                                baseModel="pvc://x//etc/passwd",
                                                                output=f"file://{runs[name]}"))
    resources.wait(
        "trainings", platform.alice, "deletes", lambda o: TRAINING_FINALIZER in (o["metadata"].get("finalizers") or ()))
    kept = resources.wait_phase("trainings", platform.alice, "keeps", "Failed")
    assert TRAINING_FINALIZER not in (kept["metadata"].get("finalizers") or ())
    for name in runs:
        resources.delete("trainings", platform.alice, name)
    custom = resources.custom
    for name in runs:
        wait_gone(custom.list_namespaced_custom_object, name, "kubetune.io", "v1alpha1", platform.alice, "trainings")
    assert not runs["deletes"].exists()
    assert (runs["keeps"] / "adapter" / "adapter_model.bin").read_bytes() == b"weights"
    for path, before in platform.bob_files.items():
        assert _fingerprint(path) == before


def test_deleting_a_project_removes_its_prefix_of_the_store(
        platform: Platform, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    name = f"gone-{uuid.uuid4().hex[:6]}"
    _project_namespace(core, name)
    wait_for(core.list_namespace, lambda ns: PROJECT_FINALIZER in (ns["metadata"].get("finalizers") or ()),
             field_selector=f"metadata.name={name}")
    prefix = platform.store / name
    (prefix / "datasets" / "d").mkdir(parents=True)
    (prefix / "datasets" / "d" / "chat.jsonl").write_text(ROW)
    os.symlink(platform.store / platform.bob, prefix / "link-to-bob")
    core.delete_namespace(name)
    wait_gone(core.list_namespace, name)
    assert not prefix.exists()
    for path, before in platform.bob_files.items():  # the link was removed, not followed
        assert _fingerprint(path) == before

"""HPO trials, InferenceService waiting for its Training then Ready, and train -> serve."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from kubernetes import client
from operator_waits import Obj, Resources, condition, wait_for

from kubetune.operator.inprocess import OperatorThread


def _env(deployment: client.V1Deployment) -> dict[str, str]:
    return {e.name: e.value for e in deployment.spec.template.spec.containers[0].env if e.value is not None}


def test_hpo_runs_four_trials_two_at_a_time_and_picks_the_best(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    hpo = {
        "enabled": True,
        "strategy": "grid",
        "maxTrials": 4,
        "parallelTrials": 2,
        "objective": {"metric": "eval_loss", "goal": "minimize"},
        "parameters": [{"name": "learningRate", "values": [1e-4, 3e-4, 1e-3, 2e-3]}],
    }
    make_training("search", behaviour="report", hpo=hpo)
    first = resources.wait("trainings", namespace, "search", lambda o: bool((o.get("status") or {}).get("trials")))
    assert len(first["status"]["trials"]) <= 2  # never more than parallelTrials started at once

    done = resources.wait_phase("trainings", namespace, "search", "Succeeded", "Failed", timeout=240)
    status = done["status"]
    assert status["phase"] == "Succeeded", status.get("message")
    trials = status["trials"]
    assert [t["name"] for t in trials] == [f"search-trial-{i}" for i in range(4)]
    assert [t["parameters"]["learning_rate"] for t in trials] == [1e-4, 3e-4, 1e-3, 2e-3]
    assert all(t["phase"] == "Succeeded" and t["objective"] is not None for t in trials)
    assert status["bestTrial"] == "search-trial-1"  # the stand-in's loss is smallest at 3e-4
    trial = resources.get("trainings", namespace, "search-trial-1")
    assert trial["metadata"]["labels"]["kubetune.io/hpo-parent"] == "search"
    assert trial["metadata"]["ownerReferences"][0]["uid"] == done["metadata"]["uid"]
    assert trial["spec"].get("hpo") is None


def test_suspending_a_search_suspends_its_trials_and_resuming_resumes_them(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    hpo = {
        "enabled": True, "strategy": "grid", "maxTrials": 3, "parallelTrials": 2,
        "objective": {"metric": "eval_loss", "goal": "minimize"},
        "parameters": [{"name": "learningRate", "values": [1e-4, 3e-4, 1e-3]}],
    }
    make_training("paused-search", behaviour="sleep", hpo=hpo)
    trials = ["paused-search-trial-0", "paused-search-trial-1"]
    for trial in trials:
        resources.wait_phase("trainings", namespace, trial, "Running")

    resources.patch("trainings", namespace, "paused-search", {"spec": {"suspend": True}})
    parent = resources.wait_phase("trainings", namespace, "paused-search", "Stopped")
    assert "search suspended" in parent["status"]["message"]
    for trial in trials:
        stopped = resources.get("trainings", namespace, trial)
        assert stopped["spec"]["suspend"] is True
        assert stopped["status"]["phase"] == "Stopped"
    assert [t["name"] for t in parent["status"]["trials"]] == trials  # no new trial while suspended

    resources.patch("trainings", namespace, "paused-search", {"spec": {"suspend": False}})
    for trial in trials:
        resumed = resources.wait_phase("trainings", namespace, trial, "Running")
        assert resumed["spec"]["suspend"] is False
    assert resources.wait_phase("trainings", namespace, "paused-search", "Running")["status"]["phase"] == "Running"


def test_api_keys_secret_is_mounted_into_the_server(
        operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
        artifacts: Path) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="serve-keys"), string_data={"keys": "key-one\nkey-two\n"}))
    resources.create("inferenceservices", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "guarded"},
        "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"},
                 "apiKeys": {"name": "serve-keys"}}})
    # The stand-in server, like kubetune-serve, is ready only once the key file is there.
    ready = resources.wait_phase("inferenceservices", namespace, "guarded", "Ready", timeout=180)
    assert ready["status"]["readyReplicas"] == 1
    deployment = client.AppsV1Api(api_client).read_namespaced_deployment("guarded-server", namespace)
    assert _env(deployment)["KUBETUNE_SERVE_API_KEY_FILE"] == "/etc/kubetune/api-keys"
    (volume,) = [v for v in deployment.spec.template.spec.volumes if v.projected is not None]
    # The operator's own key Secret first, then the user's keys, in one directory.
    assert [s.secret.name for s in volume.projected.sources] == ["guarded-serving-key", "serve-keys"]
    own = core.read_namespaced_secret("guarded-serving-key", namespace)
    assert own.metadata.owner_references[0].name == "guarded"
    assert base64.b64decode(own.data["api-key"]).decode().startswith("kts_")


def test_inference_service_waits_for_its_training_then_becomes_ready(
    operator: OperatorThread,
    resources: Resources,
    api_client: client.ApiClient,
    namespace: str,
    make_training: Callable[..., Obj],
) -> None:
    make_training("src", behaviour="report", suspend=True)
    resources.create(
        "inferenceservices",
        namespace,
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "InferenceService",
            "metadata": {"name": "chat"},
            "spec": {"trainingRef": {"name": "src"}, "replicas": 1, "limits": {"maxConcurrent": 3}},
        },
    )
    waiting = resources.wait(
        "inferenceservices", namespace, "chat", lambda o: condition(o, "WaitingForTraining").get("status") == "True"
    )
    assert waiting["status"]["phase"] == "Pending"
    assert "waiting for Training src to succeed" in waiting["status"]["message"]
    apps = client.AppsV1Api(api_client)
    assert apps.list_namespaced_deployment(namespace).items == []

    resources.patch("trainings", namespace, "src", {"spec": {"suspend": False}})
    ready = resources.wait_phase("inferenceservices", namespace, "chat", "Ready", timeout=180)
    status = ready["status"]
    assert status["phase"] == "Ready", status
    assert status["url"] == f"http://chat.{namespace}.svc.cluster.local"
    assert status["readyReplicas"] == 1
    assert status["modelVersion"] == "v1"
    assert condition(ready, "WaitingForTraining")["status"] == "False"

    deployment = apps.read_namespaced_deployment("chat-server", namespace)
    env = _env(deployment)
    output = resources.get("trainings", namespace, "src")["status"]["output"]
    # the Training's adapter reaches the server through the adapters ConfigMap and is its default
    adapters = client.CoreV1Api(api_client).read_namespaced_config_map("chat-adapters", namespace)
    assert json.loads(adapters.data["adapters.json"]) == {"src": output}
    assert env["KUBETUNE_SERVE_DEFAULT_ADAPTER"] == "src"
    assert status["adapters"] == ["src"] and status["runtime"] == "kubetune"
    assert env["KUBETUNE_SERVE_MODEL_URI"] == "file:///models/tiny"
    assert env["KUBETUNE_SERVE_MAX_CONCURRENT"] == "3"
    service = client.CoreV1Api(api_client).read_namespaced_service("chat", namespace)
    assert [(p.port, p.target_port) for p in service.spec.ports] == [(80, 8080)]


def test_a_serving_training_gets_its_own_inference_service(
    operator: OperatorThread, resources: Resources, namespace: str, make_training: Callable[..., Obj]
) -> None:
    make_training("served", behaviour="report", serve={"enabled": True, "replicas": 1})
    done = resources.wait(
        "trainings", namespace, "served", lambda o: (o.get("status") or {}).get("inferenceService") == "served-serve"
    )
    assert done["status"]["phase"] == "Succeeded"
    isvc = resources.wait_phase("inferenceservices", namespace, "served-serve", "Ready", timeout=180)
    assert isvc["status"]["phase"] == "Ready"
    assert isvc["spec"]["trainingRef"] == {"name": "served"}
    assert isvc["metadata"]["ownerReferences"][0]["uid"] == done["metadata"]["uid"]


def condition_reason(obj: Obj, type_: str) -> str | None:
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_]
    return found[0].get("reason") if found and found[0].get("status") == "True" else None


def test_datasets_are_validated_and_trainings_wait_for_them(
    operator: OperatorThread,
    resources: Resources,
    namespace: str,
    artifacts: object,
    make_training: Callable[..., Obj],
    tmp_path: object,
) -> None:
    root = Path(str(artifacts)) / namespace / "data"  # a Dataset is read only in its project's prefix
    root.mkdir(parents=True, exist_ok=True)
    good = root / "good.jsonl"
    row = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    good.write_text("\n".join([row] * 5) + "\n")
    bad = root / "bad.jsonl"
    bad.write_text(row + "\n{oops\n" + row + "\n" + json.dumps({"messages": 3}) + "\n")

    def dataset(name: str, path: Path) -> Obj:
        return {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {"name": name},
            "spec": {"uri": f"file://{path}", "format": "openai_chat_jsonl", "splits": [{"name": "train_test"}]},
        }

    # GitOps applies a folder in any order: a Training before its Dataset waits for it, with no Job.
    make_training("before-its-data", dataset={"ref": {"name": "late"}})
    waiting = resources.wait("trainings", namespace, "before-its-data",
                             lambda o: condition_reason(o, "Pending") == "WaitingForDataset")
    assert waiting["status"]["phase"] == "Pending"
    assert "Dataset late does not exist yet" in waiting["status"]["message"]
    assert not client.BatchV1Api(resources.custom.api_client).list_namespaced_job(
        namespace, label_selector="kubetune.io/training=before-its-data").items
    resources.create("datasets", namespace, dataset("late", good))
    resources.create("datasets", namespace, dataset("good", good))
    resources.create("datasets", namespace, dataset("bad", bad))
    ready = resources.wait_phase("datasets", namespace, "good", "Ready", "Invalid")["status"]
    assert (ready["phase"], ready["rowCount"], ready["detectedFormat"]) == ("Ready", 5, "openai_chat_jsonl")
    assert ready["sizeBytes"] == good.stat().st_size and len(ready["sha256"]) == 64
    assert ready["splits"] == [{"name": "train", "rows": 4}, {"name": "test", "rows": 1}]
    invalid = resources.wait_phase("datasets", namespace, "bad", "Invalid", "Ready")["status"]
    assert invalid["phase"] == "Invalid"
    assert [e["line"] for e in invalid["errors"]] == [2, 4]
    assert invalid["message"].startswith("line 2: not valid JSON")

    make_training("on-bad-data", dataset={"ref": {"name": "bad"}})
    failed = resources.wait_phase("trainings", namespace, "on-bad-data", "Failed")
    assert "Dataset bad is Invalid" in failed["status"]["message"]
    late = resources.wait_phase("trainings", namespace, "before-its-data", "Succeeded", "Failed")
    assert late["status"]["phase"] == "Succeeded", late["status"]
    make_training("on-good-data", dataset={"ref": {"name": "good"}})
    assert (
        resources.wait_phase("trainings", namespace, "on-good-data", "Succeeded", "Failed")["status"]["phase"]
        == "Succeeded"
    )


def test_trainer_is_ready_and_counts_its_trainings(
    operator: OperatorThread, resources: Resources, namespace: str, trainer: str, make_training: Callable[..., Obj]
) -> None:
    make_training("counted", behaviour="sleep", suspend=True)
    got = wait_for(
        resources.custom.list_cluster_custom_object,
        lambda o: condition(o, "Ready").get("status") == "True",
        "kubetune.io",
        "v1alpha1",
        "trainers",
        field_selector=f"metadata.name={trainer}",
    )
    assert got["status"]["observedGeneration"] == got["metadata"]["generation"]
    # Text for `kubectl get trainers` (an array column would print as JSON).
    assert got["status"]["tasks"] == ", ".join(got["spec"]["tasks"])
    assert got["status"]["methods"] == ", ".join(got["spec"]["methods"])
    bad_name = f"{trainer}-bad"
    resources.create(
        "trainers",
        None,
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Trainer",
            "metadata": {"name": bad_name},
            "spec": {"image": "Not An Image", "tasks": ["causal-lm"], "methods": ["lora"]},
        },
    )
    try:
        invalid = wait_for(
            resources.custom.list_cluster_custom_object,
            lambda o: condition(o, "Ready").get("status") == "False",
            "kubetune.io",
            "v1alpha1",
            "trainers",
            field_selector=f"metadata.name={bad_name}",
        )
        assert "not a valid image reference" in condition(invalid, "Ready")["message"]
    finally:
        resources.custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", bad_name)


def test_an_added_adapter_needs_no_rollout_and_replicas_get_a_budget(
        operator: OperatorThread, resources: Resources, api_client: client.ApiClient, namespace: str,
        artifacts: Path) -> None:
    resources.create("inferenceservices", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "base"},
        "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"}, "replicas": 1}})
    first = resources.wait_phase("inferenceservices", namespace, "base", "Ready", timeout=180)
    assert first["status"]["modelVersion"] == "v1"
    policy = client.PolicyV1Api(api_client)
    assert policy.list_namespaced_pod_disruption_budget(namespace).items == []

    resources.patch("inferenceservices", namespace, "base", {"spec": {"replicas": 2, "model": {
        "baseModel": f"file://{artifacts}/{namespace}/models/tiny",
        "adapters": [{"name": "a1", "uri": f"file://{artifacts}/{namespace}/adapters/a1"}]}}})
    second = resources.wait("inferenceservices", namespace, "base",
                            lambda o: (o.get("status") or {}).get("adapters") == ["a1"]
                            and o["status"].get("phase") == "Ready" and o["status"].get("readyReplicas") == 2,
                            timeout=180)
    assert second["status"]["observedGeneration"] == second["metadata"]["generation"]
    # Adapters are loaded by the running server (the adapters ConfigMap): the model version stays.
    assert second["status"]["modelVersion"] == "v1"
    adapters = client.CoreV1Api(api_client).read_namespaced_config_map("base-adapters", namespace)
    assert json.loads(adapters.data["adapters.json"]) == {"a1": f"file://{artifacts}/{namespace}/adapters/a1"}
    deployment = client.AppsV1Api(api_client).read_namespaced_deployment("base-server", namespace)
    assert deployment.spec.template.metadata.annotations["kubetune.io/model-version"] == "v1"
    (pdb,) = policy.list_namespaced_pod_disruption_budget(namespace).items
    assert pdb.spec.min_available == 1


def test_a_server_image_that_cannot_be_pulled_fails_with_the_reason(
        operator: OperatorThread, resources: Resources, namespace: str, artifacts: Path) -> None:
    resources.create("inferenceservices", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "nopull"},
        "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"},
                 "image": "registry.invalid/kubetune/runtime:1"}})
    failed = resources.wait_phase("inferenceservices", namespace, "nopull", "Failed", "Ready")
    assert failed["status"]["phase"] == "Failed"
    assert "cannot pull the server image (ImagePullBackOff)" in failed["status"]["message"]
    assert condition(failed, "Ready")["status"] == "False"


def test_a_server_over_its_memory_limit_fails_as_oomkilled(
        operator: OperatorThread, resources: Resources, namespace: str, artifacts: Path) -> None:
    # 8 MiB is less than any Python interpreter needs: every start is OOM-killed.
    resources.create("inferenceservices", namespace, {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "InferenceService", "metadata": {"name": "tight"},
        "spec": {"model": {"baseModel": f"file://{artifacts}/{namespace}/models/tiny"},
                 "resources": {"memory": "8Mi"}}})
    failed = resources.wait_phase("inferenceservices", namespace, "tight", "Failed", "Ready")
    assert failed["status"]["phase"] == "Failed"
    assert "the server ran out of memory (OOMKilled)" in failed["status"]["message"]

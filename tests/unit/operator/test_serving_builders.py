"""InferenceService children: Deployment running kubetune-serve, Service, PDB; train -> serve."""

from __future__ import annotations

from collections.abc import Callable

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.deployment import build_deployment
from kubetune.operator.builders.inferenceservice import build_inference_service
from kubetune.operator.builders.pdb import build_pdb
from kubetune.operator.builders.service import build_service, service_url
from kubetune.operator.builders.serving import ServedModel, next_model_version
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

ISVC = Owner(api_version="kubetune.io/v1alpha1", kind="InferenceService", name="chat", uid="u-9", namespace="team-a")


def _spec(**extra: object) -> InferenceServiceSpec:
    return InferenceServiceSpec.model_validate(
        {
            "model": {"baseModel": "file:///models/base", "adapters": [{"name": "a1", "uri": "file:///ad/1"}]},
            "replicas": 2,
            "limits": {"maxConcurrent": 4, "queueSize": 7},
            "cache": {"ttlSeconds": 60},
            "resources": {"gpus": 1, "memory": "8Gi"},
            **extra,
        }
    )


def test_deployment_configures_kubetune_serve_through_env(settings: Settings) -> None:
    spec = _spec()
    model = ServedModel.from_source(spec.model)  # type: ignore[arg-type]
    dep = build_deployment(ISVC, spec, model, "v3", settings)
    assert dep["metadata"]["name"] == "chat-server"
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["kubetune-serve"]
    assert container["image"] == "rt:1"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUBETUNE_SERVE_MODEL_URI"] == "file:///models/base"
    # the adapters come from the adapters ConfigMap, read while serving; the first one is the default
    assert "KUBETUNE_SERVE_ADAPTERS" not in env and env["KUBETUNE_SERVE_DEFAULT_ADAPTER"] == "a1"
    assert env["KUBETUNE_SERVE_ADAPTERS_FILE"] == "/etc/kubetune/adapters/adapters.json"
    assert env["KUBETUNE_SERVE_MAX_CONCURRENT"] == "4"
    assert env["KUBETUNE_SERVE_QUEUE_SIZE"] == "7"
    assert env["KUBETUNE_SERVE_CACHE_TTL_SECONDS"] == "60"
    assert env["KUBETUNE_SERVE_MODEL_VERSION"] == "v3"
    assert env["KUBETUNE_SERVE_PORT"] == "8080"
    assert env["KUBETUNE_SERVE_PVC_MOUNT_ROOT"] == "/mnt/pvc"  # where input_volumes mounts pvc:// claims
    host = next(e for e in container["env"] if e["name"] == "KUBETUNE_SERVE_HOST")
    assert host["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8080}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert "kubetune.io/training" not in dep["spec"]["template"]["metadata"]["labels"]


def _key_volume(pod: dict[str, object]) -> dict[str, object]:
    (volume,) = [v for v in pod["volumes"] if "projected" in v]  # type: ignore[attr-defined]
    return volume  # type: ignore[no-any-return]


def test_api_keys_come_from_the_operators_secret_as_a_rotatable_directory(settings: Settings) -> None:
    pod = build_deployment(ISVC, _spec(), ServedModel("file:///m"), "v1", settings)["spec"]["template"]["spec"]
    volume = _key_volume(pod)
    assert volume["projected"]["sources"] == [  # type: ignore[index]
        {"secret": {"name": "chat-serving-key", "items": [{"key": "keys", "path": "keys"}]}}]
    container = pod["containers"][0]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True and "subPath" not in mount  # subPath mounts never see rotated keys
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUBETUNE_SERVE_API_KEY_FILE"] == mount["mountPath"]  # every file of the directory


def test_user_managed_api_keys_join_the_operators(settings: Settings) -> None:
    spec = _spec(apiKeys={"name": "chat-keys", "key": "tokens"})
    pod = build_deployment(ISVC, spec, ServedModel("file:///m"), "v1", settings)["spec"]["template"]["spec"]
    sources = _key_volume(pod)["projected"]["sources"]  # type: ignore[index]
    assert sources[1] == {"secret": {"name": "chat-keys", "items": [{"key": "tokens", "path": "user-keys"}]}}


def test_auth_none_is_a_server_without_keys(settings: Settings) -> None:
    pod = build_deployment(ISVC, _spec(auth="none"), ServedModel("file:///m"), "v1", settings)["spec"]["template"][
        "spec"]
    assert not [v for v in pod["volumes"] if "projected" in v]
    assert "KUBETUNE_SERVE_API_KEY_FILE" not in {e["name"] for e in pod["containers"][0]["env"]}


def test_suspended_service_scales_to_zero(settings: Settings) -> None:
    spec = _spec(suspend=True)
    dep = build_deployment(ISVC, spec, ServedModel("file:///m"), "v1", settings)
    assert dep["spec"]["replicas"] == 0


def test_service_maps_port_80_to_the_server_and_selects_its_pods(settings: Settings) -> None:
    svc = build_service(ISVC, settings)
    dep = build_deployment(ISVC, _spec(), ServedModel("file:///m"), "v1", settings)
    assert svc["metadata"]["name"] == "chat"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert service_url("chat", "team-a", settings) == "http://chat.team-a.svc.cluster.local"


def test_pdb_only_with_more_than_one_replica() -> None:
    assert build_pdb(ISVC, 1) is None
    pdb = build_pdb(ISVC, 3)
    assert pdb is not None and pdb["spec"]["minAvailable"] == 1
    assert pdb["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"


def test_model_version_bumps_only_when_the_base_model_changes() -> None:
    first = ServedModel("file:///base", {"t": "file:///out/1"})
    again = ServedModel("file:///base", {"t": "file:///out/1"})
    other_adapter = ServedModel("file:///base", {"t": "file:///out/2"})  # loaded at run time: same version
    newer = ServedModel("file:///base-2", {"t": "file:///out/1"})
    assert next_model_version(None, None, first) == "v1"
    assert next_model_version("v1", first.fingerprint(), again) == "v1"
    assert next_model_version("v1", first.fingerprint(), other_adapter) == "v1"
    assert next_model_version("v1", first.fingerprint(), newer) == "v2"


def test_full_fine_tuning_serves_the_output_as_the_model() -> None:
    assert ServedModel.from_training("t", "full", "file:///b", "file:///o") == ServedModel("file:///o")
    assert ServedModel.from_training("t", "lora", "file:///b", "file:///o").adapters == {"t": "file:///o"}


def test_training_serve_block_becomes_an_owned_inference_service(
    owner: Owner, make_training: Callable[..., TrainingSpec]
) -> None:
    spec = make_training(serve={"enabled": True, "replicas": 2, "limits": {"maxConcurrent": 3}})
    isvc = build_inference_service(owner, spec)
    assert isvc["kind"] == "InferenceService"
    assert isvc["metadata"]["name"] == "run-1-serve"
    assert isvc["metadata"]["ownerReferences"][0]["name"] == "run-1"
    assert isvc["spec"]["trainingRef"] == {"name": "run-1"}
    assert isvc["spec"]["replicas"] == 2
    assert isvc["spec"]["limits"]["maxConcurrent"] == 3
    InferenceServiceSpec.model_validate(isvc["spec"])

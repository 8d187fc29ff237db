"""Runtime vllm and adapters at run time in the serving pod: the builders' output."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.operator.builders.deployment import build_deployment
from kubetune.operator.builders.serving import ServedModel
from kubetune.operator.builders.serving_runtime import (
    VLLMSettingsError,
    build_adapters_config_map,
    serving_runtime,
)
from kubetune.operator.owner import Owner
from kubetune.operator.settings import Settings

ISVC = Owner(api_version="kubetune.io/v1alpha1", kind="InferenceService", name="chat", uid="u-9", namespace="team-a")


def _spec(**extra: Any) -> InferenceServiceSpec:
    return InferenceServiceSpec.model_validate(
        {"model": {"baseModel": "file:///models/base", "adapters": [{"name": "a1", "uri": "file:///ad/1"}]}, **extra}
    )


def _container(spec: InferenceServiceSpec, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    model = ServedModel.from_source(spec.model)  # type: ignore[arg-type]
    pod = build_deployment(ISVC, spec, model, "v1", settings)["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


def test_vllm_runs_behind_kubetune_in_one_container(settings: Settings) -> None:
    spec = _spec(runtime="vllm", resources={"gpus": 2},
                 vllm={"maxLoras": 8, "maxLoraRank": 64, "gpuMemoryUtilization": 0.85, "maxModelLen": 4096})
    pod, container = _container(spec, settings)
    assert len(pod["containers"]) == 1 and container["image"] == settings.vllm_image
    env = _env(container)
    assert env["KUBETUNE_SERVE_ENGINE"] == "vllm"
    assert env["KUBETUNE_SERVE_VLLM_URL"] == "http://127.0.0.1:8000"  # vLLM on loopback only
    assert json.loads(env["KUBETUNE_SERVE_VLLM_COMMAND"]) == settings.vllm_command
    assert json.loads(env["KUBETUNE_SERVE_VLLM_ARGS"]) == [
        "--max-loras", "8", "--max-lora-rank", "64", "--gpu-memory-utilization", "0.85",
        "--tensor-parallel-size", "2", "--max-model-len", "4096"]
    # the probes stay on kubetune's server, whose /readyz waits for vLLM
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert {"name": "shm", "emptyDir": {"medium": "Memory"}} in pod["volumes"]


def test_kubetune_runtime_has_no_vllm_settings(settings: Settings) -> None:
    pod, container = _container(_spec(runtime="kubetune"), settings)
    env = _env(container)
    assert "KUBETUNE_SERVE_ENGINE" not in env and container["image"] == "rt:1"
    assert all(v["name"] != "shm" for v in pod["volumes"])


def test_the_default_runtime_of_causal_lms_is_a_platform_setting(settings: Settings) -> None:
    vllm_platform = settings.model_copy(update={"llm_runtime": "vllm"})
    assert serving_runtime(_spec(), settings) == "kubetune"
    assert serving_runtime(_spec(), vllm_platform) == "vllm"
    assert serving_runtime(_spec(task="sequence-classification"), vllm_platform) == "kubetune"
    assert serving_runtime(_spec(runtime="kubetune"), vllm_platform) == "kubetune"


def test_vllm_serves_causal_lms_only() -> None:
    with pytest.raises(ValidationError, match="causal-lm"):
        _spec(runtime="vllm", task="sequence-classification")


def test_an_adapter_change_leaves_the_pod_template_alone(settings: Settings) -> None:
    """Adapters reach the running server through the ConfigMap; the template (so no rollout) stays the same."""
    one = ServedModel("file:///models/base", {"a1": "file:///ad/1"})
    two = ServedModel("file:///models/base", {"a1": "file:///ad/1", "a2": "file:///ad/2"})
    spec = _spec()
    first = build_deployment(ISVC, spec, one, "v1", settings)["spec"]["template"]
    second = build_deployment(ISVC, spec, two, "v1", settings)["spec"]["template"]
    assert first == second
    config_map = build_adapters_config_map(ISVC, two)
    assert config_map["metadata"]["name"] == "chat-adapters"
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == "u-9"
    assert json.loads(config_map["data"]["adapters.json"]) == {"a1": "file:///ad/1", "a2": "file:///ad/2"}
    volume = next(v for v in first["spec"]["volumes"] if v["name"] == "adapters")
    assert volume == {"name": "adapters", "configMap": {"name": "chat-adapters"}}
    mount = next(m for m in first["spec"]["containers"][0]["volumeMounts"] if m["name"] == "adapters")
    assert "subPath" not in mount  # a subPath mount is never refreshed by the kubelet


def _vllm_args(container: dict[str, Any]) -> list[str]:
    return list(json.loads(_env(container)["KUBETUNE_SERVE_VLLM_ARGS"]))


def test_on_a_cpu_node_the_kv_cache_is_a_share_of_the_pods_memory_not_of_the_node(settings: Settings) -> None:
    # vLLM's CPU backend reads --gpu-memory-utilization as a share of the node's whole memory: the
    # explicit size keeps it inside the pod's limit (and skips that check).
    _, container = _container(_spec(runtime="vllm", resources={"gpus": 0, "memory": "8Gi"}), settings)
    args = _vllm_args(container)
    assert args[args.index("--kv-cache-memory-bytes") + 1] == str(2 * 2**30)
    assert container["resources"]["limits"]["memory"] == "8Gi"


def test_an_explicit_kv_cache_size_wins_on_any_node(settings: Settings) -> None:
    for resources in ({"gpus": 1}, {"gpus": 0, "memory": "8Gi"}):
        spec = _spec(runtime="vllm", resources=resources, vllm={"kvCacheMemory": "512Mi"})
        args = _vllm_args(_container(spec, settings)[1])
        assert args[args.index("--kv-cache-memory-bytes") + 1] == str(512 * 2**20)


def test_gpu_nodes_size_the_kv_cache_by_utilisation(settings: Settings) -> None:
    assert "--kv-cache-memory-bytes" not in _vllm_args(_container(_spec(runtime="vllm", resources={"gpus": 1}),
                                                                  settings)[1])


def test_vllm_on_a_cpu_node_without_a_memory_limit_is_refused_with_the_reason(settings: Settings) -> None:
    with pytest.raises(VLLMSettingsError, match=r"resources\.memory or vllm\.kvCacheMemory"):
        _container(_spec(runtime="vllm", resources={"gpus": 0}), settings)
